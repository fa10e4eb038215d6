//! `detach`: remove one pull Secret from pod templates (`$patch: delete` by name) and
//! ServiceAccounts (read-modify-write), leaving every other entry alone.

use super::changes::ChangeRequest;
use crate::error::ExitStatus;
use crate::printer::Printer;
use crate::references::Change;
use crate::settings::{Connection, DetachSettings};

pub(crate) async fn run(
    settings: &DetachSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let request = ChangeRequest {
        change: Change::Detach {
            secret: settings.secret.clone(),
        },
        targets: &settings.targets,
        labels: settings.labels.as_deref(),
        scope: &settings.scope,
        write: &settings.write,
    };
    super::changes::run_request(request, &connection, printer).await
}
