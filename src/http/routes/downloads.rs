//! `POST /downloads`: signed GET URLs for a READY batch's renditions.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use aggregates::{AssetStatus, ObjectKey, RenditionName};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access::{self, Action};
use crate::http::dto::{Download, Downloads, DownloadsRequest, ErrorBody, JsonRefusals};
use crate::http::error::ApiError;
use crate::http::input::{self, Resolution, Target, ZIP};
use crate::http::request::Json;
use crate::store::BatchReport;

/// Signed GET URLs for a ready batch
///
/// Without `batchId`, the listing's newest READY batch. During a retry, the last complete
/// renditions stay downloadable.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/downloads",
    operation_id = "getDownloads",
    tag = "batches",
    request_body = DownloadsRequest,
    responses(
        (status = 200, description = "One signed URL per processed asset", body = Downloads),
        (status = 204, description = "No `batchId` given and the listing has no READY batch"),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`BATCH_NOT_READY`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        JsonRefusals,
    ),
    security(("jwt" = [])),
)]
pub async fn downloads(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<DownloadsRequest>,
) -> Result<HttpResponse, ApiError> {
    let input::Downloads {
        listing_id,
        batch_id,
        resolution,
    } = input::Downloads::try_from(body)?;

    // A named batch comes with its assets in one query; the newest READY one takes two.
    let (batch, assets) = match batch_id {
        Some(batch_id) => {
            let target = Target {
                listing_id,
                batch_id,
            };
            let BatchReport { batch, assets, .. } = access::report(&state, caller, target).await?;
            if !batch.status.serves_downloads(batch.ready_attempt) {
                return Err(ApiError::BatchNotReady {
                    status: batch.status,
                });
            }
            (batch, assets)
        }
        None => {
            access::listing(&state, caller, listing_id, Action::Read).await?;
            let store = state.engine.store();
            let newest = store.newest_ready_batch(listing_id).await;
            let Some(batch) = newest.map_err(ApiError::internal)? else {
                return Ok(HttpResponse::NoContent().finish());
            };
            let assets = store.asset_views(batch.batch_id).await;
            (batch, assets.map_err(ApiError::internal)?)
        }
    };
    let now = Utc::now();
    let ttl = state.config.download_url_ttl;
    let objects = &state.backends.objects;
    let sign = async |key: &ObjectKey| -> Result<(String, String), ApiError> {
        let (url, expires) = objects
            .presign_get(key, ttl, now)
            .await
            .map_err(ApiError::internal)?;
        Ok((url, projections::time::stamp(expires)))
    };
    let reply = |downloads| {
        HttpResponse::Ok().json(Downloads {
            batch_id: batch.batch_id.to_string(),
            downloads,
            generated_at: projections::time::stamp(now),
            listing_identity_id: listing_id.get(),
            ttl_seconds: ttl.num_seconds(),
        })
    };
    if resolution == Resolution::Zip {
        // A pipeline that made no ZIP leaves the list empty.
        let mut downloads = Vec::new();
        if let Some((key, _)) = &batch.zip {
            let (url, expires_at) = sign(key).await?;
            downloads.push(Download {
                asset_type: "ZIP",
                client_id: ZIP.to_owned(),
                expires_at,
                height: None,
                metadata: BTreeMap::new(),
                preview_url: None,
                resolution: ZIP,
                sequence: 0,
                title: Some(batch.batch_reference.clone()),
                url,
                width: None,
            });
        }
        return Ok(reply(downloads));
    }
    let mut downloads = Vec::with_capacity(assets.len());
    for a in assets
        .iter()
        .filter(|a| a.status == AssetStatus::Processed || !a.renditions.is_empty())
    {
        let key = match resolution {
            Resolution::Original => Some(&a.raw_key),
            Resolution::Size(size) => a.renditions.get(size),
            Resolution::Web => a
                .renditions
                .get(RenditionName::WEB)
                .or_else(|| a.renditions.get(Resolution::largest().name())),
            Resolution::Zip => unreachable!("answered above"),
        };
        // Videos and documents pass through: their original stands in for every size.
        let key = key
            .or_else(|| a.renditions.get(RenditionName::ORIGINAL))
            .unwrap_or(&a.raw_key);
        let (url, expires_at) = sign(key).await?;
        // The smallest size previews every download.
        let preview = match a.renditions.get(input::SIZES[0]) {
            Some(k) => Some(sign(k).await?.0),
            None => None,
        };
        downloads.push(Download {
            asset_type: a.asset_type.as_str(),
            client_id: a.client_id.to_string(),
            expires_at,
            height: a.height,
            metadata: a.metadata.clone(),
            preview_url: preview,
            resolution: resolution.name(),
            sequence: a.sequence,
            title: a.title.clone(),
            url,
            width: a.width,
        });
    }
    Ok(reply(downloads))
}
