//! `attach`: put a pull Secret into pod templates and ServiceAccounts without losing any
//! existing entry, or with `--auto`, every Secret of the namespace that matches the images.
//! The pipeline itself lives in `references`.

use super::changes::ChangeRequest;
use crate::error::ExitStatus;
use crate::printer::Printer;
use crate::references::Change;
use crate::settings::{AttachSettings, Connection};

pub(crate) async fn run(
    settings: &AttachSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    // The node's providers, read and validated before anything is (docs/attach.md).
    let providers = match &settings.provider_config {
        Some(path) => crate::credentials::providers::load(path)?,
        None => Vec::new(),
    };
    let change = Change::Attach {
        secret: settings.secret.clone(),
        auto: settings.auto,
        allow_missing: settings.allow_missing,
        restart: settings.restart,
        providers,
    };
    let request = ChangeRequest {
        change,
        targets: &settings.targets,
        labels: settings.labels.as_deref(),
        scope: &settings.scope,
        write: &settings.write,
    };
    super::changes::run_request(request, &connection, printer).await
}
