//! The SQL of `leases` rows; `crate::lease` decides when to take and renew them.

use super::{Store, StoreError};

impl Store {
    /// Takes the lease `name` for `holder` until `until` when it is free, expired at `now`, or
    /// already `holder`'s. False when another holder has it, or a writer got in the way.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: &str,
        until: &str,
    ) -> Result<bool, StoreError> {
        let dialect = self.dialect;
        let sql = "UPDATE leases SET holder = ?, expires_at = ? \
                   WHERE name = ? AND (holder = ? OR expires_at < ?)";
        let updated = sqlx::query(dialect.sql(sql))
            .bind(holder)
            .bind(until)
            .bind(name)
            .bind(holder)
            .bind(now)
            .execute(&self.pool)
            .await;
        match updated {
            Ok(r) if r.rows_affected() == 1 => return Ok(true),
            Ok(_) => {}
            Err(e) if dialect.is_transient(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)";
        let inserted = sqlx::query(dialect.sql(sql))
            .bind(name)
            .bind(holder)
            .bind(until)
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            // Someone holds it (or created it just now). MySQL counts an UPDATE that changed
            // nothing as 0 rows, so a renewal in the same millisecond ends here too: ask.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                self.holds_lease(name, holder, now).await
            }
            Err(e) if dialect.is_transient(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn holds_lease(&self, name: &str, holder: &str, now: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM leases WHERE name = ? AND holder = ? AND expires_at >= ?";
        let n: i64 = sqlx::query_scalar(self.dialect.sql(sql))
            .bind(name)
            .bind(holder)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 1)
    }

    /// Sets the lease to expire at `at`, if `holder` has it.
    pub async fn expire_lease(&self, name: &str, holder: &str, at: &str) -> Result<(), StoreError> {
        let sql = "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?";
        sqlx::query(self.dialect.sql(sql))
            .bind(at)
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
