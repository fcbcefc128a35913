//! The few places where SQLite, MySQL/MariaDB and PostgreSQL differ, kept in one spot.

use sqlx::AnyPool;
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next()?;
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "mysql" | "mariadb" => Some(Self::MySql),
            "postgres" | "postgresql" => Some(Self::Postgres),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::MySql => "mysql",
            Self::Postgres => "postgres",
        }
    }

    /// Rewrites `?` placeholders for PostgreSQL (`$1`, `$2`, ...). No SQL here has `?` in a literal.
    pub fn sql(self, template: &str) -> AssertSqlSafe<String> {
        if self != Self::Postgres {
            return AssertSqlSafe(template.to_owned());
        }
        let mut out = String::with_capacity(template.len() + 16);
        let mut n = 0;
        for c in template.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        AssertSqlSafe(out)
    }

    /// The statement that opens a write transaction. SQLite takes its write lock up front, so
    /// that a transaction that reads before it writes never fails to upgrade.
    pub fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::MySql | Self::Postgres => "BEGIN",
        }
    }

    /// An integer expression as text, to compare with an aggregate id.
    pub fn as_text(self, expr: &str) -> String {
        match self {
            Self::MySql => format!("CAST({expr} AS CHAR)"),
            Self::Sqlite | Self::Postgres => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The statement that opens a read-only transaction over one consistent snapshot.
    pub fn begin_snapshot(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN",
            Self::MySql => "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            Self::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        }
    }

    /// Whether a database error means "another transaction got in the way, run it again".
    pub fn is_transient(self, err: &sqlx::Error) -> bool {
        let sqlx::Error::Database(db) = err else {
            return false;
        };
        let code = db.code();
        let code = code.as_deref().unwrap_or_default();
        match self {
            Self::Sqlite => matches!(code, "5" | "6" | "517"),
            Self::MySql => code == "40001" || db.message().contains("Lock wait timeout"),
            Self::Postgres => matches!(code, "40001" | "40P01"),
        }
    }
}

/// Connection settings every pooled connection gets.
pub async fn tune(pool: &AnyPool, dialect: Dialect) -> Result<(), sqlx::Error> {
    if dialect == Dialect::Sqlite {
        // WAL persists in the file; readers then never block the single writer.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(pool)
            .await?;
    }
    Ok(())
}
