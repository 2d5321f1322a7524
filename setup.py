"""The one compiled part of Tongban: ``connectors/soap/_fastdict.pyx``, the SOAP fast path's tree walker.

Everything else is declared in pyproject.toml. The extension walks lxml's libxml2 nodes through lxml's public
C-API, so it is built against the lxml that ``[build-system] requires`` pins — the same version as
constraints.txt — and records that version; at import, ``connectors.soap.decode`` uses it only when the
running lxml is the same one, and otherwise (or when no C compiler was there: the extension is optional)
falls back to the pure-Python walker, which gives the same dicts, about four times slower.
"""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

fastdict = Extension(
    "connectors.soap._fastdict",
    ["connectors/soap/_fastdict.pyx"],
    include_dirs=lxml.get_include(),
    define_macros=[("TONGBAN_LXML_VERSION", f'"{lxml.__version__}"')],
    extra_compile_args=["-O2"],
    optional=True,
)

setup(ext_modules=cythonize([fastdict], compiler_directives={"language_level": 3}, quiet=True))
