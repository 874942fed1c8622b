//! Following the cluster's variables: the catch-up before the server serves, the watch that applies every change
//! after it, and the watch on the NATS connection that logs its loss and return.
//!
//! The server remembers the last revision of `commy-vars` it applied in `<data-dir>/cluster-vars.revision` (written
//! at most every [`SAVE_EVERY`]; after a SIGKILL it may be a little behind, and applying a change twice changes
//! nothing). On start it watches from the revision after it, and applies every change up to the bucket's last
//! revision at that moment before it serves.

use super::replica::{Applied, Replica};
use super::value_publish::{self, ClusterSink};
use crate::handlers::App;
use commy_cluster::{ClusterError, ClusterLink, VariableChange, VariableWatch, VersionedValue};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The file, in the data directory, that holds the last revision applied.
pub(crate) const REVISION_FILE: &str = "cluster-vars.revision";

/// How often the revision file and the connection are looked at.
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// Catches up with the cluster's variables, then starts the tasks that keep this server in step with it.
pub(crate) async fn start(
    app: &Arc<App>,
    link: &ClusterLink,
    replica: &Arc<Replica>,
    data_dir: &Path,
) -> Result<(), ClusterError> {
    let path = data_dir.join(REVISION_FILE);
    let saved = read_revision(&path);
    let last = link.last_variable_revision().await?;
    // A saved revision past the bucket's end means the bucket is not the one it was read from: start over.
    let from = if saved > last {
        tracing::warn!(
            saved,
            last,
            "the cluster's variables bucket is behind this server's saved revision; reading it all"
        );
        0
    } else {
        saved
    };
    replica.set_applied_revision(from);
    let mut watch = link.watch_variables(from + 1).await?;
    let mut caught_up = 0usize;
    while watch.next_revision() <= last {
        match tokio::time::timeout(link.call_timeout(), watch.next()).await {
            Ok(change) => {
                apply(app, replica, change);
                caught_up += 1;
            }
            Err(_) => {
                tracing::warn!(
                    at = watch.next_revision(),
                    last,
                    "the catch-up with the cluster stalled; serving"
                );
                break;
            }
        }
    }
    tracing::info!(
        from = from + 1,
        to = last,
        changes = caught_up,
        "caught up with the cluster's variables"
    );
    app.live
        .subscribe_every_service(value_publish::CLUSTER_CONNECTION, ClusterSink::new(replica.clone()));
    // The tasks hold the server weakly: they end once it is gone (an embedder may open the same data directory again).
    let server = Arc::downgrade(app);
    tokio::spawn(follow(server.clone(), replica.clone(), watch));
    tokio::spawn(value_publish::run(server.clone(), link.clone(), replica.clone()));
    tokio::spawn(watch_connection(server, link.clone(), replica.clone(), path));
    Ok(())
}

/// Applies every change from the watch, for as long as the server runs.
async fn follow(app: Weak<App>, replica: Arc<Replica>, mut watch: VariableWatch) {
    loop {
        let change = watch.next().await;
        let Some(app) = app.upgrade() else { return };
        apply(&app, &replica, change);
    }
}

fn apply(app: &App, replica: &Replica, change: Result<VariableChange, ClusterError>) {
    let change = match change {
        Ok(change) => change,
        Err(error) => {
            tracing::warn!(%error, "a change from the cluster could not be read; skipped");
            return;
        }
    };
    // A deleted variable is the metadata's business (its deallocation), not a value.
    if let Some(stored) = &change.value {
        match VersionedValue::decode(&change.key, stored) {
            Ok(value) => match replica.apply(app, &change.key, &value, change.revision) {
                Ok(Applied::Unknown) => {
                    tracing::debug!(key = %change.key, "a change of a variable this server does not have; skipped")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, key = %change.key, "a change from the cluster was not applied"),
            },
            Err(error) => tracing::warn!(%error, "a change from the cluster was skipped"),
        }
    }
    replica.set_applied_revision(change.revision);
}

/// Logs when NATS is lost and back, sets `commy_cluster_connected`, and saves the applied revision.
async fn watch_connection(app: Weak<App>, link: ClusterLink, replica: Arc<Replica>, path: PathBuf) {
    let mut connected = true;
    let mut saved = read_revision(&path);
    replica.stats.connected.set(1);
    loop {
        tokio::time::sleep(SAVE_EVERY).await;
        if app.strong_count() == 0 {
            return;
        }
        let now = link.is_connected();
        if now != connected {
            connected = now;
            replica.stats.connected.set(i64::from(now));
            if now {
                tracing::info!("cluster: NATS connection back; publishing the changes made meanwhile");
            } else {
                tracing::warn!(
                    "cluster: NATS connection lost; serving this server's clients, plain writes land here and are \
                     published when it returns, compare-and-set answers TIMEOUT"
                );
            }
        }
        let applied = replica.applied_revision();
        if applied != saved {
            match write_revision(&path, applied) {
                Ok(()) => saved = applied,
                Err(error) => tracing::warn!(%error, file = %path.display(), "could not save the applied revision"),
            }
        }
    }
}

fn read_revision(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(file = %path.display(), "the saved cluster revision is not a number; reading the bucket from its start");
            0
        }),
        Err(_) => 0,
    }
}

fn write_revision(path: &Path, revision: u64) -> std::io::Result<()> {
    let temporary = path.with_extension("revision.new");
    std::fs::write(&temporary, format!("{revision}\n"))?;
    std::fs::rename(&temporary, path)
}
