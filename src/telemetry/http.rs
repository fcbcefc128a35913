//! The HTTP middleware of `/metrics` and the request log.

/// Middleware: request duration by route pattern (never the raw path, which holds ids), method
/// and status.
pub async fn observe_http(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
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
