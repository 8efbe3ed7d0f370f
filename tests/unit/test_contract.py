"""The v1 contract's own rules, read from the proto's descriptors with their comments.

Every service, method, message, field, oneof, enum and enum value carries a leading comment that
says something (more than a word), and every file sets the options each language's generator
needs. The descriptors come from protoc with ``--include_source_info`` (devtools.protogen).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from devtools.protogen import PROTO_PACKAGE, described

ROOT = Path(__file__).resolve().parents[2]
SourcePath = tuple[int, ...]
# Field numbers of descriptor.proto, as SourceCodeInfo paths spell them.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE, SERVICE_METHOD = 2, 2
LANGUAGE_OPTIONS = (
    "go_package",
    "java_package",
    "java_multiple_files",
    "java_outer_classname",
    "csharp_namespace",
    "objc_class_prefix",
    "php_namespace",
    "ruby_package",
    "swift_prefix",
)


def own_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """The package's files, without the well-known types they import."""
    return [f for f in described().file if f.package == PROTO_PACKAGE]


FILES = own_files()


def enum_elements(
    enum: descriptor_pb2.EnumDescriptorProto, path: SourcePath, prefix: str
) -> Iterator[tuple[str, SourcePath]]:
    """An enum and its values, each with its SourceCodeInfo path."""
    name = f"{prefix}.{enum.name}"
    yield f"enum {name}", path
    for k, value in enumerate(enum.value):
        yield f"enum value {name}.{value.name}", (*path, ENUM_VALUE, k)


def message_elements(
    message: descriptor_pb2.DescriptorProto, path: SourcePath, prefix: str
) -> Iterator[tuple[str, SourcePath]]:
    """A message and everything declared in it, each with its SourceCodeInfo path."""
    name = f"{prefix}.{message.name}"
    yield f"message {name}", path
    for k, field in enumerate(message.field):
        yield f"field {name}.{field.name}", (*path, MESSAGE_FIELD, k)
    synthetic = {f.oneof_index for f in message.field if f.proto3_optional}
    for k, oneof in enumerate(message.oneof_decl):
        if k not in synthetic:  # an `optional` field's own oneof: no source, so no comment
            yield f"oneof {name}.{oneof.name}", (*path, MESSAGE_ONEOF, k)
    for k, nested in enumerate(message.nested_type):
        yield from message_elements(nested, (*path, MESSAGE_NESTED, k), name)
    for k, enum in enumerate(message.enum_type):
        yield from enum_elements(enum, (*path, MESSAGE_ENUM, k), name)


def file_elements(f: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[str, SourcePath]]:
    """Every documentable element of a file, each with its SourceCodeInfo path."""
    for k, message in enumerate(f.message_type):
        yield from message_elements(message, (FILE_MESSAGE, k), f.package)
    for k, enum in enumerate(f.enum_type):
        yield from enum_elements(enum, (FILE_ENUM, k), f.package)
    for k, service in enumerate(f.service):
        name = f"{f.package}.{service.name}"
        yield f"service {name}", (FILE_SERVICE, k)
        for m, method in enumerate(service.method):
            yield f"method {name}.{method.name}", (FILE_SERVICE, k, SERVICE_METHOD, m)


def leading_comments(f: descriptor_pb2.FileDescriptorProto) -> dict[SourcePath, str]:
    """Each element's leading comment by its path."""
    return {tuple(loc.path): loc.leading_comments for loc in f.source_code_info.location}


def test_the_package_has_both_files() -> None:
    assert sorted(f.name for f in FILES) == [
        "matcher/v1/feed_admin.proto",
        "matcher/v1/matcher.proto",
    ]


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.name)
def test_every_element_says_what_it_is_in_a_leading_comment(
    f: descriptor_pb2.FileDescriptorProto,
) -> None:
    comments = leading_comments(f)
    elements = list(file_elements(f))
    assert len(elements) > 20
    silent = [name for name, path in elements if len(comments.get(path, "").split()) < 2]
    assert not silent, f"{f.name}: no comment (or a single word) on {silent}"


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.name)
def test_every_file_sets_each_languages_options(f: descriptor_pb2.FileDescriptorProto) -> None:
    options = f.options
    missing = [name for name in LANGUAGE_OPTIONS if not options.HasField(name)]
    assert not missing, f"{f.name} lacks {missing}"
    assert options.java_multiple_files, "one Java class per message, none nested in an outer one"
    assert options.go_package.endswith(";matcherv1")
    assert options.java_package == "com.matcher.v1"


def test_a_missing_comment_is_found() -> None:
    f = descriptor_pb2.FileDescriptorProto()
    f.CopyFrom(FILES[0])
    kept = [loc for loc in f.source_code_info.location if tuple(loc.path) != (FILE_MESSAGE, 0)]
    del f.source_code_info.location[:]
    f.source_code_info.location.extend(kept)
    comments = leading_comments(f)
    silent = [name for name, path in file_elements(f) if not comments.get(path, "").strip()]
    assert silent == [f"message {f.package}.{f.message_type[0].name}"]


# buf, as make runs it: the checks catch what they are there for.

BUF = ROOT / "node_modules" / ".bin" / "buf"
BASELINE = ROOT / "proto" / "v1-baseline.binpb"


def buf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """buf from node_modules (npm ci, which make runs), in a directory."""
    assert BUF.exists(), "buf is missing: run make (npm ci installs it into node_modules)"
    return subprocess.run(
        [str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def contract_copy(tmp_path: Path) -> Path:
    """buf.yaml and proto/ copied, to change without touching the real ones."""
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    return tmp_path


def edit(root: Path, old: str, new: str) -> None:
    """Replaces text once in the copy's matcher.proto."""
    path = root / "proto" / "matcher" / "v1" / "matcher.proto"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_the_proto_as_it_stands_passes_lint_and_the_breaking_check() -> None:
    assert buf("lint", cwd=ROOT).returncode == 0
    done = buf("breaking", "--against", str(BASELINE), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("  double radius_km = 2;", "  double radius_km_max = 2;", "radius_km"),
        ("  string page_token = 9;", "  int64 page_token = 9;", "page_token"),
        ("  MODALITY_REMOTE = 3;", "  MODALITY_VIDEO = 3;", "MODALITY_REMOTE"),
    ],
    ids=["renamed-field", "retyped-field", "renamed-enum-value"],
)
def test_a_change_that_breaks_v1_clients_fails_the_breaking_check(
    contract_copy: Path, old: str, new: str, says: str
) -> None:
    edit(contract_copy, old, new)
    done = buf("breaking", "--against", str(BASELINE), cwd=contract_copy)
    assert done.returncode != 0
    assert says in done.stdout, done.stdout


def test_an_added_field_is_no_break(contract_copy: Path) -> None:
    edit(
        contract_copy,
        "  Order order = 11;\n",
        "  Order order = 11;\n  // A field a later change adds, documented.\n  bool extra = 12;\n",
    )
    done = buf("breaking", "--against", str(BASELINE), cwd=contract_copy)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lint_refuses_an_unprefixed_enum_value_and_a_silent_field(contract_copy: Path) -> None:
    edit(contract_copy, "  MODALITY_REMOTE = 3;", "  REMOTE = 3;")
    edit(contract_copy, "  Order order = 11;\n", "  Order order = 11;\n  bool silent = 12;\n")
    said = buf("lint", cwd=contract_copy).stdout
    assert 'Enum value name "REMOTE" should be prefixed with "MODALITY_"' in said
    assert '"silent"' in said and "comment" in said.lower()
