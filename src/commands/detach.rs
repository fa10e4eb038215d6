//! `detach`: remove one pull Secret from pod templates (`$patch: delete` by name) and
//! ServiceAccounts (read-modify-write), leaving every other entry alone.

use crate::cluster;
use crate::commands::attach::{self, Change, Plan};
use crate::error::ExitStatus;
use crate::settings::{Connection, DetachSettings, NamespaceScope};

pub async fn run(settings: DetachSettings, connection: Connection) -> anyhow::Result<ExitStatus> {
    let cluster = cluster::connect(&connection).await?;
    let namespaces = cluster.namespaces(&settings.scope).await?;
    let plan = Plan {
        change: Change::Detach {
            secret: settings.secret.clone(),
        },
        targets: &settings.targets,
        labels: settings.labels.as_deref(),
        namespaces: &namespaces,
        missing_is_error: matches!(
            settings.scope,
            NamespaceScope::Context | NamespaceScope::Named(_)
        ),
        write: &settings.write,
    };
    let outcome = attach::apply(&cluster, &plan).await;
    attach::report(outcome, &settings.write, namespaces.len() > 1)
}
