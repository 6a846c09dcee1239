"""PEP 517 backend: setuptools, plus fastcore's `atomics` and `sanitize` build options.

`pip install . -C atomics=portable` hands {"atomics": "portable"} to every hook; setuptools
does not know that key, so it is moved into FASTCORE_ATOMICS (read by setup.py) and removed.
"""
from __future__ import annotations

import os

from setuptools import build_meta as _orig

_KEYS = {"atomics": "FASTCORE_ATOMICS", "sanitize": "FASTCORE_SANITIZE"}


def _take(config_settings):
    if not config_settings:
        return config_settings
    settings = dict(config_settings)
    for key, env in _KEYS.items():
        value = settings.pop(key, None)
        if value is not None:
            if isinstance(value, list):
                value = value[-1]
            os.environ[env] = str(value)
    return settings or None


def get_requires_for_build_wheel(config_settings=None):
    return _orig.get_requires_for_build_wheel(_take(config_settings))


def get_requires_for_build_sdist(config_settings=None):
    return _orig.get_requires_for_build_sdist(_take(config_settings))


def get_requires_for_build_editable(config_settings=None):
    return _orig.get_requires_for_build_editable(_take(config_settings))


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _orig.prepare_metadata_for_build_wheel(metadata_directory, _take(config_settings))


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _orig.prepare_metadata_for_build_editable(metadata_directory, _take(config_settings))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _orig.build_wheel(wheel_directory, _take(config_settings), metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _orig.build_editable(wheel_directory, _take(config_settings), metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    return _orig.build_sdist(sdist_directory, _take(config_settings))
