//! Reads and writes read-table rows described by `projections::table`, on any backend.

use projections::table::{Kind, Table};
use projections::{Cell, Row};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor, Row as _};

use super::Dialect;

/// Binds a cell; a NULL is typed by its column, as PostgreSQL requires.
fn bind<'q>(
    query: Query<'q, Any, AnyArguments>,
    kind: Kind,
    cell: &Cell,
) -> Query<'q, Any, AnyArguments> {
    match (cell, kind) {
        (Cell::Null, Kind::Int) => query.bind(None::<i64>),
        (Cell::Null, Kind::Text) => query.bind(None::<String>),
        (Cell::Int(n), _) => query.bind(*n),
        (Cell::Text(s), _) => query.bind(s.clone()),
    }
}

fn columns(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts rows of one table, many per statement.
pub async fn insert(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &Table,
    rows: &[&Row],
) -> Result<(), sqlx::Error> {
    // Stay under every backend's bind-parameter limit (SQLite: 32766, PostgreSQL: 65535).
    let per_statement = (30_000 / table.columns.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let one = format!("({})", vec!["?"; table.columns.len()].join(", "));
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            table.name,
            columns(table),
            vec![one.as_str(); chunk.len()].join(", ")
        );
        let mut query = sqlx::query(dialect.sql(&sql));
        for row in chunk {
            for (column, cell) in table.columns.iter().zip(&row.cells) {
                query = bind(query, column.kind, cell);
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces the values of an existing row, found by its key.
pub async fn update(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &Table,
    row: &Row,
) -> Result<(), sqlx::Error> {
    let set: Vec<String> = table
        .value_columns()
        .iter()
        .map(|c| format!("{} = ?", c.name))
        .collect();
    let key: Vec<String> = table
        .key_columns()
        .iter()
        .map(|c| format!("{} = ?", c.name))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE {}",
        table.name,
        set.join(", "),
        key.join(" AND ")
    );
    let mut query = sqlx::query(dialect.sql(&sql));
    let values = table
        .value_columns()
        .iter()
        .zip(&row.cells[table.key_len..]);
    let key = table.key_columns().iter().zip(row.key(table));
    for (column, cell) in values.chain(key) {
        query = bind(query, column.kind, cell);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Reads each cell by its column's name, so the SELECT's column order does not matter.
fn decode(table: &'static Table, row: &AnyRow) -> Result<Row, sqlx::Error> {
    let cells = table
        .columns
        .iter()
        .map(|column| {
            Ok(match column.kind {
                Kind::Int => row.try_get::<Option<i64>, _>(column.name)?.into(),
                Kind::Text => row.try_get::<Option<String>, _>(column.name)?.into(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Row {
        table: table.name,
        cells,
    })
}

/// `alias.column, ...` for every column of `table`, in its description's order: one table's
/// part of a join's SELECT, read back by [`decode_at`].
pub fn qualified(table: &Table, alias: &str) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("{alias}.{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row of `table` whose columns start at position `offset` of a join's SELECT (laid out
/// by [`qualified`]), or `None` where an outer join found none (its first key column is NULL).
/// By position: the join's tables share column names.
pub fn decode_at(
    table: &'static Table,
    row: &AnyRow,
    offset: usize,
) -> Result<Option<Row>, sqlx::Error> {
    let cells: Vec<Cell> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column.kind {
                Kind::Int => row.try_get::<Option<i64>, _>(offset + i)?.into(),
                Kind::Text => row.try_get::<Option<String>, _>(offset + i)?.into(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((cells[0] != Cell::Null).then_some(Row {
        table: table.name,
        cells,
    }))
}

/// The rows of `table` that `filter` picks: SQL after `WHERE` (conditions, then any `ORDER BY`
/// or `LIMIT`), with a `?` for each of `params`.
pub async fn select<'e, E>(
    executor: E,
    dialect: Dialect,
    table: &'static Table,
    filter: &str,
    params: &[Cell],
) -> Result<Vec<Row>, sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {} FROM {} WHERE {filter}",
        columns(table),
        table.name
    );
    let mut query = sqlx::query(dialect.sql(&sql));
    for param in params {
        // A parameter is never NULL, so its kind does not matter.
        query = bind(query, Kind::Text, param);
    }
    let rows = query.fetch_all(executor).await?;
    rows.iter().map(|r| decode(table, r)).collect()
}

/// Up to `limit` rows of `table` whose stream has no events at all: rows no fold can imply.
pub async fn orphans(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &'static Table,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    let column = table
        .columns
        .iter()
        .find(|c| c.name == table.stream_column)
        .expect("the stream column is a column");
    let id = match column.kind {
        Kind::Text => format!("t.{}", column.name),
        Kind::Int => dialect.as_text(&format!("t.{}", column.name)),
    };
    let filter = format!(
        "NOT EXISTS (SELECT 1 FROM events e WHERE e.aggregate_type = ? AND e.aggregate_id = {id}) LIMIT ?"
    );
    let sql = format!(
        "SELECT {} FROM {} t WHERE {filter}",
        columns(table),
        table.name
    );
    let rows = sqlx::query(dialect.sql(&sql))
        .bind(table.aggregate)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| decode(table, r)).collect()
}
