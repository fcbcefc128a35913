//! Who may do what (API.md "Who may do what"). A listing or batch the caller may not see is
//! reported as not found, never as forbidden: no existence leaks.

use actix_web::HttpRequest;
use aggregates::AssetType;

use crate::auth::{Caller, Role};
use crate::http::error::ApiError;
use crate::http::{AppState, request};
use crate::store::ListingView;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create, complete, retry or delete a batch.
    Command,
    /// Status and downloads.
    Read,
}

/// The platform's routes take the internal service token.
pub fn internal(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if request::is_internal(req, &state.secrets.internal_token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the internal service token is required".into(),
        ))
    }
}

/// Auditors and admins see every listing, batch and history.
fn oversees(caller: Caller) -> bool {
    matches!(caller.role, Role::Admin | Role::Auditor)
}

/// The listing registry is read by the platform, or by admins and auditors with a JWT.
pub fn registry_reader(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if internal(req, state).is_ok() || oversees(request::caller(req)?) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the listing registry is internal"))
    }
}

/// Event history: auditors and admins only.
pub fn history(caller: Caller) -> Result<(), ApiError> {
    if oversees(caller) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only auditors and admins read event history",
        ))
    }
}

fn sees(caller: Caller, listing: &ListingView) -> bool {
    match caller.role {
        Role::Admin | Role::Auditor => true,
        Role::Photographer => listing.photographer_user_id == Some(caller.user_id),
        Role::Owner => listing.owner_user_id == caller.user_id,
    }
}

/// The listing, if the caller may see it and act on it this way.
pub async fn listing(
    store: &Store,
    caller: Caller,
    listing_id: u64,
    action: Action,
    owner_project_media: bool,
) -> Result<ListingView, ApiError> {
    let listing = store
        .listing_view(listing_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|l| sees(caller, l))
        .ok_or(ApiError::ListingNotFound)?;
    if action == Action::Command {
        match caller.role {
            Role::Auditor => return Err(ApiError::Forbidden("auditors may not change batches")),
            Role::Owner if !(owner_project_media && listing.project_media) => {
                return Err(ApiError::Forbidden(
                    "owners may only upload project media, on listings that allow it",
                ));
            }
            _ => {}
        }
    }
    Ok(listing)
}

/// Owners act only on project media (PROJECT_DOC / PROJECT_RENDER).
pub fn check_asset_types<'a>(
    caller: Caller,
    types: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    if caller.role != Role::Owner {
        return Ok(());
    }
    let project = |t: &str| AssetType::parse(t).is_ok_and(AssetType::is_project_media);
    if types.into_iter().all(project) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "owners may only upload PROJECT_DOC and PROJECT_RENDER files",
        ))
    }
}

/// The batch, if it belongs to the listing (already checked visible) and is not deleted.
pub async fn batch(
    store: &Store,
    listing: &ListingView,
    batch_id: &str,
) -> Result<crate::store::BatchView, ApiError> {
    store
        .batch_view(batch_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|b| b.listing_id == listing.listing_identity_id)
        .ok_or(ApiError::BatchNotFound)
}

/// What a batch command acts on: the listing (visible, and commands allowed to this caller), the
/// batch (of that listing, not deleted) and its assets (owners: project media only).
pub async fn command_target(
    store: &Store,
    caller: Caller,
    listing_id: u64,
    batch_id: &str,
    owner_project_media: bool,
) -> Result<
    (
        ListingView,
        crate::store::BatchView,
        Vec<crate::store::AssetView>,
    ),
    ApiError,
> {
    let listing = self::listing(
        store,
        caller,
        listing_id,
        Action::Command,
        owner_project_media,
    )
    .await?;
    let batch = self::batch(store, &listing, batch_id).await?;
    let assets = store
        .asset_views(&batch.batch_id)
        .await
        .map_err(ApiError::internal)?;
    check_asset_types(caller, assets.iter().map(|a| a.asset_type.as_str()))?;
    Ok((listing, batch, assets))
}
