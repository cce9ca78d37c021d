from tests.helpers.smtp import smtp_server, smtp_server_factory, test_ca  # noqa: F401
