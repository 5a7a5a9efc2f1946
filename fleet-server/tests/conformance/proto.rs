//! Reading the ONNX test data's `.pb` tensors (TensorProto) into host tensors.

use edge_model::weights::{HostData, HostTensor, decode_le};
use onnx_ir::{Message, TensorProto};

/// ONNX's TensorProto.DataType numbers we read.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;
const INT64: i32 = 7;
const BOOL: i32 = 9;
const FLOAT16: i32 = 10;
const DOUBLE: i32 = 11;

/// The tensor in `bytes`, or why it cannot be read (an element type we do not run).
pub fn read_tensor(bytes: &[u8]) -> Result<HostTensor, String> {
    let proto =
        TensorProto::parse_from_bytes(bytes).map_err(|e| format!("not a TensorProto: {e}"))?;
    let shape: Vec<usize> = proto
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dim {d}")))
        .collect::<Result<_, _>>()?;
    let raw = &proto.raw_data;
    let use_raw = !raw.is_empty();
    let data = match proto.data_type {
        FLOAT => HostData::F32(if use_raw {
            decode_le(raw, f32::from_le_bytes)
        } else {
            proto.float_data.clone()
        }),
        DOUBLE => HostData::F64(if use_raw {
            decode_le(raw, f64::from_le_bytes)
        } else {
            proto.double_data.clone()
        }),
        FLOAT16 => HostData::F16(if use_raw {
            decode_le(raw, |b| half::f16::from_le_bytes(b).to_f32())
        } else {
            proto
                .int32_data
                .iter()
                .map(|&b| half::f16::from_bits(b as u16).to_f32())
                .collect()
        }),
        INT64 => HostData::I64(if use_raw {
            decode_le(raw, i64::from_le_bytes)
        } else {
            proto.int64_data.clone()
        }),
        INT32 => HostData::I32(if use_raw {
            decode_le(raw, i32::from_le_bytes)
        } else {
            proto.int32_data.clone()
        }),
        INT8 => HostData::I8(if use_raw {
            raw.iter().map(|&b| b as i8).collect()
        } else {
            proto.int32_data.iter().map(|&v| v as i8).collect()
        }),
        UINT8 => HostData::U8(if use_raw {
            raw.to_vec()
        } else {
            proto.int32_data.iter().map(|&v| v as u8).collect()
        }),
        BOOL => HostData::Bool(if use_raw {
            raw.iter().map(|&b| b != 0).collect()
        } else {
            proto.int32_data.iter().map(|&v| v != 0).collect()
        }),
        other => {
            return Err(format!(
                "element type {other} (TensorProto.DataType) is not one we run"
            ));
        }
    };
    HostTensor::typed(shape, data).map_err(|e| e.to_string())
}
