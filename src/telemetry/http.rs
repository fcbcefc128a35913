//! The HTTP middleware of `/metrics` and the request log.

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};

use crate::fault::{self, Fault};
use crate::http::error::ApiError;

/// Middleware: request duration by route pattern (never the raw path, which holds ids), method
/// and status. It is also where the `http_5xx` fault answers (see `crate::fault`).
pub async fn observe_http(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().as_str().to_owned();
    let res = if fault::fires(Fault::Http5xx) {
        let injected = ApiError::Internal("injected fault http_5xx".to_owned());
        req.into_response(injected.error_response())
            .map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(%route, %method, status, ms = elapsed.as_millis() as u64, "request");
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method, "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    Ok(res)
}
