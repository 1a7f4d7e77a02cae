"""MariaDB and MySQL (`mysql+pymysql://user:password@host:3306/database`, the PyMySQL driver).

A database is what the other engines call a schema: `dw.orders` is table `orders` in database `dw`,
and a table without a database is looked up in the URL's. Statements are generated in sqlglot's
MySQL dialect with the few differences of MariaDB written below (`MariaDB`), in the manner of
sqlglot's own dialects; every statement also runs on MySQL 8.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import make_url
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL

from quinto.dialect import Dialect
from quinto.engines.base import Connector, StatementTimeout


def _regexp(self: Any, e: exp.RegexpLike) -> str:
    # MariaDB has no REGEXP_LIKE; its REGEXP follows the column's collation, which is usually
    # case-insensitive: `(?-i)` makes the pattern case-sensitive, as on every other engine.
    pattern = exp.func("CONCAT", exp.Literal.string("(?-i)"), e.expression.copy())
    return f"{self.sql(e, 'this')} REGEXP {self.sql(pattern)}"


def _in(self: Any, e: exp.In) -> str:
    # Text compares by the column's collation, usually case-insensitive ('SHIPPED' IN ('shipped')).
    # A check's values compare exactly, as on every other engine; a filter (an IN that is a
    # conjunct of WHERE or ON: the partitions) keeps the column's collation, and so its index.
    parent = e.parent
    while isinstance(parent, exp.And):
        parent = parent.parent
    if isinstance(parent, (exp.Where, exp.Join)) or not e.expressions:
        return str(MySQL.Generator.in_sql(self, e))
    exact = e.copy()
    exact.set("expressions", [_exact_text(v) if isinstance(v, exp.Placeholder) else v for v in exact.expressions])
    return str(MySQL.Generator.in_sql(self, exact))


def _exact_text(value: exp.Expr) -> exp.Expr:
    """`CAST(value AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`, whatever the connection's
    character set; a number or a date column still compares as a number or a date."""
    utf8 = exp.DataType(this=exp.DataType.Type.CHARACTER_SET, kind=exp.Var(this="utf8mb4"))
    return exp.Collate(this=exp.Cast(this=value, to=utf8), expression=exp.Var(this="utf8mb4_bin"))


# :r numbers the rows by the value descending (NULLs last, with numbers above :n, the count of
# values), so :n - :r is a value's 0-based place in ascending order.
_INTERPOLATE = sqlglot.parse_one(
    "MAX(CASE WHEN :n - :r = FLOOR(:p * (:n - 1)) THEN :v END) + (:p * (MAX(:n) - 1) - FLOOR(:p * (MAX(:n) - 1)))"
    " * (MAX(CASE WHEN :n - :r = CEIL(:p * (:n - 1)) THEN :v END) - MAX(CASE WHEN :n - :r = FLOOR(:p * (:n - 1))"
    " THEN :v END))",
    read="mysql",
)


def _window_percentiles(select: exp.Expr) -> exp.Expr:
    """Neither engine has a percentile aggregate (MariaDB's PERCENTILE_CONT is a window function,
    and rounds to 10 decimals). A query taking percentiles reads its table through a derived table
    that numbers the rows in the value's order (ROW_NUMBER, partitioned like the GROUP BY; its WHERE
    moves inside) and counts the values; the query interpolates between the two rows around p·(n-1), as
    PERCENTILE_CONT does. Still one statement, one sort per percentile."""
    if not isinstance(select, exp.Select) or not isinstance(select.args.get("from_"), exp.From):
        return select
    source = select.args["from_"].this
    if not _aggregate_percentiles(select) or not isinstance(source, exp.Table) or select.args.get("joins"):
        return select
    select = select.copy()
    used = {c.name: c.this.copy() for c in select.find_all(exp.Column)}
    group = select.args.get("group")
    partition_by = [g.copy() for g in group.expressions] if group else []
    inner = exp.select(*[exp.Column(this=name) for name in used.values()]).from_(source.copy())
    if select.args.get("where"):
        inner.set("where", select.args["where"].copy())
        select.set("where", None)
    for i, within in enumerate(_aggregate_percentiles(select)):
        value = within.expression.expressions[0].this
        rank = exp.to_identifier(f"quinto_rank{i}", quoted=True)
        count = exp.to_identifier(f"quinto_count{i}", quoted=True)
        numbered = exp.Window(
            this=exp.RowNumber(),
            partition_by=[p.copy() for p in partition_by],
            order=exp.Order(expressions=[exp.Ordered(this=value.copy(), desc=True, nulls_first=False)]),
        )
        counted = exp.Window(this=exp.Count(this=value.copy()), partition_by=[p.copy() for p in partition_by])
        inner = inner.select(exp.alias_(numbered, rank), exp.alias_(counted, count))
        within.replace(
            exp.replace_placeholders(
                _INTERPOLATE.copy(),
                v=value,
                p=within.this.this,
                r=exp.Column(this=rank),
                n=exp.Column(this=count),
            )
        )
    name = source.alias_or_name
    derived = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
    select.set("from_", exp.From(this=derived))
    return select


def _aggregate_percentiles(select: exp.Select) -> list[exp.WithinGroup]:
    return [
        w
        for w in select.find_all(exp.WithinGroup)
        if isinstance(w.this, exp.PercentileCont)
        and not isinstance(w.parent, exp.Window)
        and w.find_ancestor(exp.Select) is select
    ]


def _select(self: Any, e: exp.Select) -> str:
    mysql_select = MySQL.Generator.TRANSFORMS.get(exp.Select)
    select = _window_percentiles(e)
    return str(mysql_select(self, select) if mysql_select else self.select_sql(select))


def _count_if(self: Any, e: exp.CountIf) -> str:
    return self.sql(exp.Count(this=exp.Case(ifs=[exp.If(this=e.this.copy(), true=exp.Literal.number(1))])))


class MariaDB(MySQL):
    """sqlglot's MySQL dialect as MariaDB (and MySQL 8) run it; registered under `mariadb`."""

    class Generator(MySQL.Generator):  # type: ignore[misc,valid-type]
        TRANSFORMS = {
            **MySQL.Generator.TRANSFORMS,
            exp.RegexpLike: _regexp,
            exp.CountIf: _count_if,
            exp.In: _in,
            exp.Select: _select,
        }


class MySQLDialect(Dialect):
    """MariaDB 10.3+ and MySQL 8: SQL in the `MariaDB` sqlglot dialect above."""

    ENGINE: ClassVar[str] = "mysql"
    SQLGLOT: ClassVar[str] = "mariadb"
    #: written as everywhere; the dialect computes it with window functions (`_window_percentiles`).
    PERCENTILE: ClassVar[str | None] = "percentile_cont(:p) within group (order by :col)"
    #: COUNT(DISTINCT a, b) counts the rows where every column is non-NULL.
    DISTINCT_TUPLES: ClassVar[str] = "args"
    #: column names are case-insensitive (table names follow the file system's case).
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False


class MySQLConnector(Connector):
    """MariaDB and MySQL through PyMySQL."""
    TITLE: ClassVar[str] = "MariaDB / MySQL"
    URL_EXAMPLE: ClassVar[str] = "mysql+pymysql://user:${MYSQL_PASSWORD}@host:3306/db"
    CLIENT: ClassVar[str] = "`quinto[mysql]` (PyMySQL)"

    dialect: ClassVar[Dialect] = MySQLDialect()
    #: AVG and STDDEV_SAMP round to `div_precision_increment` (4) decimals by default: 30 is exact.
    CONNECT_ARGS: ClassVar[dict[str, Any]] = {"init_command": "SET SESSION div_precision_increment = 30"}
    READ_ONLY_BEGIN: ClassVar[tuple[str, ...]] = ("START TRANSACTION READ ONLY",)

    def connect_args(self) -> dict[str, Any]:
        """MariaDB stops a statement past `timeout_s` itself (max_statement_time, in a comment that
        only MariaDB executes); on MySQL the base class's timer cancels it (`cancel`)."""
        args = dict(self.CONNECT_ARGS)
        if self.timeout_s:
            args["init_command"] += f" /*M!, max_statement_time = {float(self.timeout_s):g} */"
        return args

    def run_statement(
        self, conn: sa.Connection, sql: str, params: dict[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            return super().run_statement(conn, sql, params)
        except sa.exc.DBAPIError as exc:
            if _code(exc) in (1969, 3024):  # max_statement_time / max_execution_time exceeded
                raise StatementTimeout() from None
            raise

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        """MariaDB has stopped the statement itself (max_statement_time); MySQL's is killed."""
        if "mariadb" not in dbapi_connection.get_server_info().lower():
            self.kill_query(dbapi_connection)

    def kill_query(self, dbapi_connection: Any) -> None:
        """`KILL QUERY` the statement running on `dbapi_connection`, from a second connection."""
        import pymysql

        u = make_url(self.url)
        killer = pymysql.connect(
            host=u.host or "localhost",
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            connect_timeout=10,
            **{k: v for k, v in u.query.items() if k in ("unix_socket", "charset")},  # type: ignore[arg-type]
        )
        try:
            with killer.cursor() as cur:
                cur.execute(f"KILL QUERY {int(dbapi_connection.thread_id())}")
        finally:
            killer.close()

    def clean_error(self, text: str) -> str:
        """`(1146, "Table 'dw.nope' doesn't exist")` → `Table 'dw.nope' doesn't exist`."""
        m = re.match(r"""^\((\d+), (["'])(.*)\2\)$""", text.strip())
        return m.group(3) if m else text

    def columns(self, table: str) -> dict[str, str]:
        """From information_schema; a table without a database is the URL's database's. The type
        is the full column type (`tinyint(1)` is MySQL's BOOLEAN)."""
        _, schema, name = self.split_table(table)
        sql = (
            "SELECT column_name, column_type FROM information_schema.columns WHERE table_name = :t AND "
            + ("table_schema = :s" if schema else "table_schema = DATABASE()")
            + " ORDER BY ordinal_position"
        )
        params = {"t": name, **({"s": schema} if schema else {})}
        return {str(r[0]): _family_name(str(r[1])) for r in self.execute(sql, params, purpose="schema")}


def _family_name(column_type: str) -> str:
    return "boolean" if column_type.lower().startswith("tinyint(1)") else column_type


def _code(exc: sa.exc.DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
