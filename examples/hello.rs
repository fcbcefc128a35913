//! The baseline for `scripts/load`: the smallest actix-web server, built with the same actix-web,
//! tokio and profile as `toq-media serve`, so a req/s ratio to it says what the service's own work
//! costs. `cargo run --example hello -- 127.0.0.1:18202` answers `GET /` with a short text body.
use actix_web::{App, HttpServer, get};

#[get("/")]
async fn hello() -> &'static str {
    "hello\n"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18202".to_owned());
    HttpServer::new(|| App::new().service(hello))
        .bind(&bind)?
        .run()
        .await
}
