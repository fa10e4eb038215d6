//! `attach`: put a pull Secret into pod templates and ServiceAccounts without losing any
//! existing entry, or with `--auto`, every Secret of the namespace that matches the images.
//! The pipeline itself lives in `references`.

use crate::cluster;
use crate::error::ExitStatus;
use crate::printer::Printer;
use crate::references::{self, Change, Plan};
use crate::settings::{AttachSettings, Connection};

pub async fn run(
    settings: AttachSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cluster = cluster::connect(&connection, printer).await?;
    let namespaces = cluster.namespaces(&settings.scope).await?;
    let plan = Plan {
        change: Change::Attach {
            secret: settings.secret.clone(),
            auto: settings.auto,
            allow_missing: settings.allow_missing,
            restart: settings.restart,
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
