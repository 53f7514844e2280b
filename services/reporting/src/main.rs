//! `circlemade-reporting`: reads its configuration, builds the service, serves until
//! SIGTERM or SIGINT, then drains and exits 0.

use circlemade_kit::{init_tracing, shutdown_signal};
use circlemade_reporting::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env();
    init_tracing(&config.common)?;
    let app = Application::build(config).await?;
    tracing::info!(address = %app.address(), "listening");
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}
