//! Who may do what (API.md "Who may do what"). A listing or batch the caller may not see is
//! reported as not found, never as forbidden: no existence leaks.

use actix_web::HttpRequest;
use aggregates::{AssetType, BatchId, ListingId};

use crate::auth::{Caller, Role};
use crate::http::error::ApiError;
use crate::http::input::Target;
use crate::http::{AppState, request};
use crate::store::{AssetView, BatchReport, BatchView, ListingAccess};

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

fn sees(caller: Caller, listing: &ListingAccess) -> bool {
    match caller.role {
        Role::Admin | Role::Auditor => true,
        Role::Photographer => listing.photographer_user_id == Some(caller.user_id),
        Role::Owner => listing.owner_user_id == caller.user_id,
    }
}

/// The listing, if the caller may see it and act on it this way.
pub async fn listing(
    state: &AppState,
    caller: Caller,
    listing_id: ListingId,
    action: Action,
) -> Result<ListingAccess, ApiError> {
    let listing = state
        .engine
        .store()
        .listing_access(listing_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|l| sees(caller, l))
        .ok_or(ApiError::ListingNotFound)?;
    if action == Action::Command {
        match caller.role {
            Role::Auditor => return Err(ApiError::Forbidden("auditors may not change batches")),
            Role::Owner if !(state.config.owner_project_media && listing.project_media) => {
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
pub fn check_asset_types(
    caller: Caller,
    mut types: impl Iterator<Item = AssetType>,
) -> Result<(), ApiError> {
    if caller.role != Role::Owner || types.all(AssetType::is_project_media) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "owners may only upload PROJECT_DOC and PROJECT_RENDER files",
        ))
    }
}

/// The batch, if it belongs to the listing (already checked visible) and is not deleted.
pub async fn batch(
    state: &AppState,
    listing: &ListingAccess,
    batch_id: BatchId,
) -> Result<BatchView, ApiError> {
    state
        .engine
        .store()
        .batch_view(batch_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|b| b.listing_id == listing.listing_id)
        .ok_or(ApiError::BatchNotFound)
}

/// A batch the caller may read, with its listing, job and assets: one query when it is there;
/// when it is not, the listing and then the batch are looked up to say which is missing.
pub async fn report(
    state: &AppState,
    caller: Caller,
    target: Target,
) -> Result<BatchReport, ApiError> {
    let store = state.engine.store();
    let read = || async {
        store
            .batch_report(target.listing_id, target.batch_id)
            .await
            .map_err(ApiError::internal)
    };
    if let Some(report) = read().await? {
        return if sees(caller, &report.listing) {
            Ok(report)
        } else {
            Err(ApiError::ListingNotFound)
        };
    }
    let listing = self::listing(state, caller, target.listing_id, Action::Read).await?;
    self::batch(state, &listing, target.batch_id).await?;
    // created since the first read
    read().await?.ok_or(ApiError::BatchNotFound)
}

/// What a batch command acts on: the batch (of a listing visible to the caller, commands
/// allowed to this caller, not deleted) and its assets (owners: project media only).
pub struct CommandTarget {
    pub batch: BatchView,
    pub assets: Vec<AssetView>,
}

pub async fn command_target(
    state: &AppState,
    caller: Caller,
    target: Target,
) -> Result<CommandTarget, ApiError> {
    let listing = self::listing(state, caller, target.listing_id, Action::Command).await?;
    let batch = self::batch(state, &listing, target.batch_id).await?;
    let assets = state
        .engine
        .store()
        .asset_views(batch.batch_id)
        .await
        .map_err(ApiError::internal)?;
    check_asset_types(caller, assets.iter().map(|a| a.asset_type))?;
    Ok(CommandTarget { batch, assets })
}
