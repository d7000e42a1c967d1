//! What the HTTP tests share: a router served on 127.0.0.1 with an
//! ephemeral port, a real client, and Prometheus text read into samples.

#![allow(dead_code)]

use std::collections::BTreeMap;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A router serving on 127.0.0.1 until [`stop`](Server::stop).
pub struct Server {
    base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `app` on an ephemeral port of 127.0.0.1, on the test's runtime.
    pub async fn start(app: Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Server { base, stop, task }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops accepting, lets open requests finish, and waits for the server.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the server task")
            .expect("the server ran");
    }
}

/// A client that keeps no connection idle, so that stopping a server never
/// waits on one.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client")
}

/// The example service's outage on demand: five good requests, so that its
/// breaker's window is judged, then a failing one (502: three attempts
/// failed) and another whose failures open the breaker (503).
pub async fn open_the_breaker(http: &reqwest::Client, server: &Server) {
    for id in 1..=5 {
        let response = http
            .get(server.url(&format!("/items/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
    }
    for expected in [
        reqwest::StatusCode::BAD_GATEWAY,
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let response = http
            .get(server.url("/items/1?fail=true"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
}

/// Every sample of Prometheus text, keyed by metric name and its labels
/// sorted: `name{a="1",b="2"}`.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a value: {line}"));
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("closed labels");
                let mut labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        samples.insert(key, value);
    }
    samples
}

/// The key [`samples`] gives the series `name` with `labels`.
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    labels.sort_unstable();
    format!("{name}{{{}}}", labels.join(","))
}

/// The metric names of Prometheus text.
pub fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    samples(text)
        .keys()
        .map(|key| key.split('{').next().unwrap().to_owned())
        .collect()
}
