"""Markers registered here rather than in pyproject.toml, whose hash keys every environment."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "reader: runs the built pages' code with only attnbook installed (`nox -s reader`)",
    )
