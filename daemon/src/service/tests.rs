use std::sync::Arc;

use tokio::sync::mpsc;

use super::Admission;
use super::testing::{example_request, service};
use crate::metrics::DropQueue;
use crate::registry::ShadowTap;

#[tokio::test]
async fn a_full_shadow_queue_drops_the_copy_and_counts_it_in_the_metrics() {
    let fixture = service("");
    let service = &fixture.service;
    // A queue of one copy that nobody reads: the first copy fits, the next two are dropped.
    let (tx, mut rx) = mpsc::channel(1);
    service
        .registry
        .set_shadow("mlp", Some(Arc::new(ShadowTap::new(2, tx))));
    let body = example_request();
    for _ in 0..3 {
        let reply = service.predict("mlp", &body, Admission::Refuse).await;
        assert!(
            reply.is_ok(),
            "served despite the full shadow queue: {reply:?}"
        );
    }
    assert!(rx.try_recv().is_ok(), "the first copy was queued");
    assert!(rx.try_recv().is_err(), "only one copy fits the queue");
    let dropped = service.metrics.dropped();
    assert_eq!(
        dropped.get(&(DropQueue::Shadow, "mlp".to_string())),
        Some(&2)
    );
    let text = crate::metrics::render(&service.report());
    assert!(
        text.contains("edged_shadow_copies_dropped_total{model=\"mlp\"} 2\n"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_shadow_nothing_is_copied_or_dropped() {
    let fixture = service("");
    let reply = fixture
        .service
        .predict("mlp", &example_request(), Admission::Refuse)
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    assert!(fixture.service.metrics.dropped().is_empty());
}
