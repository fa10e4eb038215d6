//! `detach`: remove one pull Secret from pod templates (`$patch: delete` by name) and
//! ServiceAccounts (read-modify-write), leaving every other entry alone.

use crate::cluster;
use crate::error::ExitStatus;
use crate::printer::Printer;
use crate::references::{self, Change, Plan};
use crate::settings::{Connection, DetachSettings};

pub async fn run(
    settings: DetachSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cluster = cluster::connect(&connection, printer).await?;
    let namespaces = cluster.namespaces(&settings.scope).await?;
    let plan = Plan {
        change: Change::Detach {
            secret: settings.secret.clone(),
        },
        targets: &settings.targets,
        labels: settings.labels.as_deref(),
        namespaces: &namespaces,
        missing_is_error: settings.scope.names_namespaces(),
        write: &settings.write,
    };
    let outcome = references::apply(&cluster, &plan).await;
    references::report(outcome, &settings.write, namespaces.len() > 1, printer)
}
