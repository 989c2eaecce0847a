import logging
import os
from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from flask import current_app
from sqlalchemy.types import TypeDecorator

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the application's (and the tests') loggers alive.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    return target_db.metadatas[None]


def render_item(type_, obj, autogen_context):
    """Render the app's TypeDecorators as their plain SQLAlchemy types.

    Migrations then never import application code, which may change after they are written.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


# Zero-downtime upgrades (docs/deploy.md): a migration that the running (old) version cannot live
# with -- dropping or renaming a column it reads, a NOT NULL without default, a long table rewrite --
# says so with a module-level ``unsafe = True``. ``flask db upgrade`` then refuses to run it unless
# told to: ``flask db upgrade -x allow-unsafe=true`` or ALLOW_UNSAFE_MIGRATIONS=1 in the environment.
TRUTHY = ("1", "true", "yes")


def unsafe_allowed():
    flag = context.get_x_argument(as_dictionary=True).get("allow-unsafe", "")
    return flag.lower() in TRUTHY or os.environ.get("ALLOW_UNSAFE_MIGRATIONS", "").lower() in TRUTHY


def command_steps():
    """The running command's step planner (``alembic.context`` proxies the EnvironmentContext)."""
    return context._proxy.context_opts.get("fn")


def refuse_unsafe(steps_fn):
    """Wrap the command's step planner: an upgrade plan holding an unsafe revision is refused whole."""
    if steps_fn is None:
        return None

    def planned(rev, migration_context):
        steps = list(steps_fn(rev, migration_context))
        unsafe = [step.revision.revision for step in steps
                  if getattr(step, "is_upgrade", False) and getattr(getattr(step, "revision", None), "module", None)
                  is not None and getattr(step.revision.module, "unsafe", False) is True]
        if unsafe and not unsafe_allowed():
            raise CommandError(
                f"refusing to apply unsafe migration(s) {', '.join(unsafe)}: they break the version still "
                "running. Stop the old version (or follow docs/deploy.md, 'Upgrades'), then run "
                "'flask db upgrade -x allow-unsafe=true' (or set ALLOW_UNSAFE_MIGRATIONS=1). Nothing was applied."
            )
        return steps

    return planned


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True,
        fn=refuse_unsafe(command_steps()),
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    conf_args.setdefault("render_item", render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            fn=refuse_unsafe(command_steps()),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
