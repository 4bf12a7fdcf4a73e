"""Per-server settings: turn seconds per game, the /poem card switch, the post language; channels.

Nothing could set a guild's settings before this revision, so every stored value was its default:
`turn_seconds` (one number for every game) becomes a JSON object by game kind, empty; `locale`
becomes optional (None: posts follow the players) and `default_form` falls back to "auto", the
form /poem has always taken. `channels` remembers the language each channel's posts use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

guilds = sa.table("guilds", sa.column("locale", sa.String), sa.column("default_form", sa.String))


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("locale", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
    )
    with op.batch_alter_table("guilds") as batch:
        batch.drop_column("turn_seconds")
        batch.add_column(sa.Column("turn_seconds", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("poem_card", sa.Boolean(), nullable=False, server_default=sa.text("true")))
        batch.alter_column("locale", existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table("guilds") as batch:
        # The JSON default only fills the rows that exist; the models give new rows their value.
        batch.alter_column("turn_seconds", existing_type=sa.JSON(), server_default=None)
    op.execute(guilds.update().values(locale=None))
    op.execute(guilds.update().values(default_form="auto"))


def downgrade() -> None:
    op.execute(guilds.update().where(guilds.c.locale.is_(None)).values(locale="zh-CN"))
    op.execute(guilds.update().values(default_form="qijue"))
    with op.batch_alter_table("guilds") as batch:
        batch.alter_column("locale", existing_type=sa.String(length=32), nullable=False)
        batch.drop_column("poem_card")
        batch.drop_column("turn_seconds")
        batch.add_column(sa.Column("turn_seconds", sa.Integer(), nullable=False, server_default="120"))
    with op.batch_alter_table("guilds") as batch:
        batch.alter_column("turn_seconds", existing_type=sa.Integer(), server_default=None)
    op.drop_table("channels")
