"""The languages stdin/stdout programs may be written in, and how each is built and run.

Each language is the toolchain Debian packages on the machine (``g++``,
``gcc``, ``nodejs``, ``default-jdk``); the sandbox shows ``/usr`` read-only,
so a tool is found on this machine's ``PATH`` and run by its real path (the
sandbox has no ``/etc/alternatives``). A program is compiled once, under the
run's limits, and run on every case.

V8 and the JVM reserve far more address space than they use, so for them the
heap is capped by the runtime's own flag (``--max-old-space-size``, ``-Xmx``)
at ``memory_mb`` and the address-space limit is raised to what they need.

Example:
    >>> cpp = language("cpp")
    >>> cpp.filename, cpp.run_command(256)
    ('prog.cpp', ['./prog'])
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass

from rewardkit.core.errors import ConfigurationError

__all__ = ["LANGUAGES", "Language", "language"]


@dataclass(frozen=True)
class Language:
    """How to build and run one language.

    Attributes:
        name: "python", "c", "cpp", "javascript" or "java".
        filename: the source file's name in the run's working folder.
        compile: the compile command (``{memory}``: the heap cap in MB), or None.
        run: the run command; ``{python}`` is the sandbox's interpreter.
        address_space_mb: the address-space limit the runtime needs (0: ``memory_mb``).
        max_processes: processes (threads count) the runtime needs at least.
        binds: host folders the toolchain reads at run time (globs), shown read-only.
    """

    name: str
    filename: str
    compile: tuple[str, ...] | None
    run: tuple[str, ...]
    address_space_mb: int = 0
    max_processes: int = 0
    binds: tuple[str, ...] = ()

    def bind_paths(self) -> list[str]:
        """The existing host folders matching :attr:`binds`."""
        return sorted({path for pattern in self.binds for path in glob.glob(pattern)})

    def tools(self) -> list[str]:
        """The executables this language needs from the machine."""
        wanted = [self.run[0]] + ([self.compile[0]] if self.compile else [])
        return [tool for tool in wanted if not tool.startswith(("{", "./"))]

    def _resolve(self, command: tuple[str, ...], memory_mb: int) -> list[str]:
        resolved = []
        for index, part in enumerate(command):
            part = part.replace("{memory}", str(memory_mb))
            if index == 0 and not part.startswith(("{", "./")):
                found = shutil.which(part)
                if found is None:
                    raise ConfigurationError(
                        f"{self.name} programs need {part!r}, which is not on PATH "
                        f"(Debian: apt-get install {_PACKAGES.get(part, part)})"
                    )
                part = os.path.realpath(found)
            resolved.append(part)
        return resolved

    def compile_command(self, memory_mb: int) -> list[str] | None:
        return self._resolve(self.compile, memory_mb) if self.compile else None

    def run_command(self, memory_mb: int) -> list[str]:
        return self._resolve(self.run, memory_mb)

    def check(self) -> None:
        """Raise :class:`ConfigurationError` now if a tool is missing here."""
        self.compile_command(256)
        self.run_command(256)


_PACKAGES = {
    "g++": "g++",
    "gcc": "gcc",
    "node": "nodejs",
    "javac": "default-jdk",
    "java": "default-jre",
}
_JVM = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto")

LANGUAGES: dict[str, Language] = {
    "python": Language("python", "prog.py", None, ("{python}", "-I", "-B", "prog.py")),
    "c": Language(
        "c", "prog.c", ("gcc", "-O2", "-std=c11", "-o", "prog", "prog.c", "-lm"), ("./prog",),
        address_space_mb=1024,
    ),
    "cpp": Language(
        "cpp", "prog.cpp", ("g++", "-O2", "-std=c++17", "-o", "prog", "prog.cpp"), ("./prog",),
        address_space_mb=1024,
    ),
    "javascript": Language(
        "javascript", "prog.js", None, ("node", "--max-old-space-size={memory}", "prog.js"),
        address_space_mb=4096,
    ),
    "java": Language(
        "java", "Main.java", ("javac", "-J-Xmx256m", *(f"-J{f}" for f in _JVM), "Main.java"),
        ("java", "-Xmx{memory}m", "-Xss64m", *_JVM, "-cp", ".", "Main"),
        address_space_mb=4096, max_processes=64, binds=("/etc/java-*-openjdk",),
    ),
}  # fmt: skip


def language(name: str) -> Language:
    """The language called ``name``; raises :class:`ConfigurationError` for an unknown one."""
    try:
        return LANGUAGES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown language {name!r}; rewardkit runs {', '.join(sorted(LANGUAGES))}"
        ) from None
