//! scikit-learn classifiers exported by skl2onnx end in a ZipMap by default: it turns the
//! probability tensor into a sequence of {label: probability} maps, a type the OIP has no
//! room for and the daemon's metrics cannot read. A ZipMap that feeds a graph output is
//! removed here, before parsing: its input tensor (`[N, classes]`, FP32) becomes that output,
//! under the output's own name, so clients see the probabilities as a tensor in class order.
//! Any other ZipMap is refused, with the exporter option that leaves it out.

use onnx_ir::{ModelProto, NodeProto, TypeProto};

use crate::import::ImportError;

/// ONNX's FLOAT element type.
const FLOAT: i32 = 1;

/// Replaces every output-feeding ZipMap by an Identity; a note per ZipMap removed.
pub(super) fn strip(proto: &mut ModelProto) -> Result<Vec<String>, ImportError> {
    let Some(graph) = proto.graph.as_mut() else {
        return Ok(Vec::new());
    };
    // The batch dimension of the first input, which the probabilities share.
    let batch = graph
        .input
        .first()
        .and_then(|i| i.type_.as_ref())
        .and_then(|t| t.tensor_type().shape.as_ref())
        .and_then(|s| s.dim.first())
        .cloned();
    let mut notes = Vec::new();
    for index in 0..graph.node.len() {
        let node = &graph.node[index];
        if node.op_type != "ZipMap" || node.domain != "ai.onnx.ml" {
            continue;
        }
        let name = if node.name.is_empty() {
            format!("#{index}")
        } else {
            node.name.clone()
        };
        let refuse = |why: &str| ImportError::Unsupported {
            node: name.clone(),
            op: "ai.onnx.ml::ZipMap".into(),
            reason: format!(
                "{why}: ZipMap makes a sequence of maps, which we do not run; export the \
                 classifier without it (skl2onnx: options={{id(model): {{'zipmap': False}}}}), \
                 or leave it at a graph output, where it is removed"
            ),
        };
        let (Some(input), Some(output)) = (node.input.first(), node.output.first()) else {
            return Err(refuse("it has no input or output"));
        };
        let (input, output) = (input.clone(), output.clone());
        let read_elsewhere = graph.node.iter().any(|n| n.input.contains(&output));
        let Some(out) = graph.output.iter_mut().find(|o| o.name == output) else {
            return Err(refuse("it does not feed a graph output"));
        };
        if read_elsewhere {
            return Err(refuse("another node reads its maps"));
        }
        let classes = node
            .attribute
            .iter()
            .find(|a| a.name == "classlabels_int64s" || a.name == "classlabels_strings")
            .map(|a| a.ints.len().max(a.strings.len()));
        let mut ty = TypeProto::new();
        let tensor = ty.mut_tensor_type();
        tensor.elem_type = FLOAT;
        let dims = &mut tensor.shape.mut_or_insert_default().dim;
        dims.resize_with(2, Default::default);
        match &batch {
            Some(b) => dims[0] = b.clone(),
            None => dims[0].set_dim_param("N".into()),
        }
        match classes {
            Some(c) if c > 0 => dims[1].set_dim_value(c as i64),
            _ => dims[1].set_dim_param("classes".into()),
        }
        out.type_ = Some(ty).into();
        let mut identity = NodeProto::new();
        identity.name = node.name.clone();
        identity.op_type = "Identity".into();
        identity.input = vec![input.clone()];
        identity.output = vec![output.clone()];
        graph.node[index] = identity;
        notes.push(format!(
            "removed ZipMap '{name}': output '{output}' is the probability tensor '{input}' \
             ([N, classes], FP32, in class order)"
        ));
    }
    Ok(notes)
}
