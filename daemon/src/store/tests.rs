use std::time::Duration;

use super::*;
use crate::config::StoreConfig;
use edge_model::oip::ResponseTensor;

fn config(quota: u64) -> StoreConfig {
    StoreConfig {
        durable_ack: true,
        quota_bytes: quota,
        sample_inputs: 0.0,
        background_flush: Duration::from_millis(500),
        commit_interval: Duration::from_millis(1),
    }
}

fn record(store: &Store, correlation: Option<&str>) -> PredictionRecord {
    PredictionRecord {
        id: store.next_id().expect("id"),
        model: "m".into(),
        version: 1,
        time_ms: now_ms(),
        latency_us: 10,
        device: "cpu".into(),
        correlation: correlation.map(str::to_string),
        outputs: vec![ResponseTensor {
            name: "y".into(),
            shape: vec![1, 2],
            datatype: "FP32".into(),
            data: vec![0.25f32, 0.75].into(),
        }],
        inputs: None,
    }
}

fn any_label(_: &PredictionRecord) -> std::result::Result<(), String> {
    Ok(())
}

async fn with_commit<T>(store: &Store, f: impl std::future::Future<Output = T>) -> T {
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(store.group_commit().run(stop.clone()));
    let out = f.await;
    stop.cancel();
    task.await.expect("commit task");
    out
}

#[tokio::test]
async fn replayed_correlation_key_returns_the_stored_prediction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), &config(1 << 30), false).expect("open");
    let first = record(&store, Some("req-1"));
    let second = record(&store, Some("req-1"));
    with_commit(&store, async {
        assert!(matches!(
            store.put_prediction(first.clone()).await,
            Ok(Stored::New(_))
        ));
        match store.put_prediction(second).await {
            Ok(Stored::Existing(p)) => assert_eq!(p, first),
            other => panic!("expected the stored prediction, got {other:?}"),
        }
    })
    .await;
    assert_eq!(store.stats().predictions, 1);
}

#[tokio::test]
async fn replayed_label_is_accepted_once_and_a_different_one_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), &config(1 << 30), false).expect("open");
    let p = record(&store, None);
    let id = p.id;
    with_commit(&store, async {
        store.put_prediction(p).await.expect("put");
        let target = LabelTarget::Id(id);
        let first = store
            .put_label("m", &target, vec![1], vec![], any_label)
            .await
            .expect("label");
        assert!(first.new);
        let replay = store
            .put_label("m", &target, vec![1], vec![], any_label)
            .await
            .expect("replay");
        assert!(!replay.new);
        let conflict = store
            .put_label("m", &target, vec![0], vec![], any_label)
            .await;
        assert!(matches!(conflict, Err(StoreError::LabelConflict { .. })));
        let other_model = store
            .put_label("other", &target, vec![1], vec![], any_label)
            .await;
        assert!(matches!(
            other_model,
            Err(StoreError::UnknownPrediction { .. })
        ));
        let unknown = store
            .put_label("m", &LabelTarget::Id(id + 1000), vec![1], vec![], any_label)
            .await;
        assert!(matches!(unknown, Err(StoreError::UnknownPrediction { .. })));
    })
    .await;
    assert_eq!(store.stats().labelled, 1);
}

#[tokio::test]
async fn quota_evicts_unlabelled_oldest_first_then_labelled_and_counts_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quota = 64 << 10;
    let mut labelled = Vec::new();
    let mut all = Vec::new();
    {
        let store = Store::open(dir.path(), &config(quota), false).expect("open");
        with_commit(&store, async {
            for i in 0..2000 {
                let p = record(&store, None);
                let id = p.id;
                store.put_prediction(p).await.expect("put");
                all.push(id);
                if i % 10 == 0 {
                    store
                        .put_label("m", &LabelTarget::Id(id), vec![1], vec![], any_label)
                        .await
                        .expect("label");
                    labelled.push(id);
                }
            }
        })
        .await;
        let stats = store.stats();
        assert!(stats.bytes <= quota, "{} > {quota}", stats.bytes);
        assert!(stats.dropped["evicted_unlabelled"] > 0);
        store.flush().expect("flush");
    }
    let store = Store::open(dir.path(), &config(quota), false).expect("reopen");
    let stats = store.stats();
    assert!(
        stats.dropped["evicted_unlabelled"] > 1000,
        "{:?}",
        stats.dropped
    );
    // Labelled predictions are evicted only once no unlabelled one is left, so the newest
    // labelled ones are all still there, and the survivors are labelled or newer than every
    // evicted unlabelled one.
    let present: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| store.get(*id).expect("get").is_some())
        .collect();
    assert_eq!(present.len() as u64, stats.predictions);
    let oldest_present_unlabelled = present.iter().find(|id| !labelled.contains(id));
    if let Some(oldest) = oldest_present_unlabelled {
        let evicted_unlabelled_newer = all
            .iter()
            .filter(|id| !labelled.contains(id) && *id > oldest && !present.contains(id))
            .count();
        assert_eq!(
            evicted_unlabelled_newer, 0,
            "eviction skipped an older unlabelled record"
        );
    }
    let labelled_present = labelled.iter().filter(|id| present.contains(id)).count() as u64;
    assert_eq!(
        labelled_present + stats.dropped["evicted_labelled"],
        labelled.len() as u64
    );
    assert_eq!(stats.labelled, labelled_present);
}

#[tokio::test]
async fn a_retry_answered_from_the_store_queues_its_records_for_upload_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), &config(1 << 30), true).expect("open");
    let first = record(&store, Some("req-1"));
    let id = first.id;
    let retry = record(&store, Some("req-1"));
    with_commit(&store, async {
        store.put_prediction(first).await.expect("put");
        let target = LabelTarget::Id(id);
        store
            .put_label("m", &target, vec![1], vec![], any_label)
            .await
            .expect("label");
        // What a kill -9 between a record and its outbox entry leaves: the records without
        // their entries (here: the entries removed, as an acknowledgement would).
        let queued: Vec<u64> = store
            .outbox_batch(100)
            .expect("batch")
            .iter()
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(queued.len(), 2);
        store.outbox_remove(&queued).expect("remove");
        assert_eq!(store.outbox_len(), 0);
        assert!(matches!(
            store.put_prediction(retry).await,
            Ok(Stored::Existing(_))
        ));
        let again = store
            .put_label("m", &target, vec![1], vec![], any_label)
            .await
            .expect("same label");
        assert!(!again.new);
    })
    .await;
    let kinds: Vec<&str> = store
        .outbox_batch(100)
        .expect("batch")
        .iter()
        .filter_map(|(_, entry)| match entry {
            Some(edge_protocol::records::Entry::Prediction { id: p, .. }) if *p == id => {
                Some("prediction")
            }
            Some(edge_protocol::records::Entry::Label { id: p, .. }) if *p == id => Some("label"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["prediction", "label"], "both go up again");
}
