//! The telemetry a production service runs, installed by [`criterion`](crate::criterion)
//! when the bench crate is built with the features that add it, so that
//! `compare-features` measures the call path as a service would see it.
//!
//! - `metrics`: a Prometheus recorder, and a thread that publishes every
//!   named instance's counts and renders the text every 100 ms, a scrape far
//!   more often than any Prometheus would.
//! - `tracing`: a subscriber that wants INFO and above (a service's usual
//!   filter) and drops what it gets.

/// Installs what the enabled features need, once per process.
pub(crate) fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        #[cfg(feature = "metrics")]
        scrape_all_along();
        #[cfg(feature = "tracing")]
        install_subscriber();
    });
}

/// Installs, as the global default, a subscriber that wants INFO and above
/// and drops what it gets.
#[cfg(feature = "tracing")]
pub fn install_subscriber() {
    tracing::subscriber::set_global_default(InfoAndAbove)
        .expect("no other subscriber is installed");
}

#[cfg(feature = "metrics")]
fn scrape_all_along() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no other recorder is installed");
    std::thread::spawn(move || loop {
        resilience_runtime::telemetry::publish_metrics();
        std::hint::black_box(handle.render());
        std::thread::sleep(std::time::Duration::from_millis(100));
    });
}

#[cfg(feature = "tracing")]
struct InfoAndAbove;

#[cfg(feature = "tracing")]
impl tracing::Subscriber for InfoAndAbove {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        std::hint::black_box(event);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
