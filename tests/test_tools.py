"""Function tools: schemas from type hints and docstrings, argument conversion, execution."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import threading
import time
from typing import Annotated, Any, List, Literal, Optional, TypedDict  # noqa: UP035 - List under test

import pytest

from realtime_nb.client.tools import Tool, ToolRegistry, function_schema, parse_docstring
from realtime_nb.errors import ToolError

try:
    import jsonschema
except ImportError:  # optional: structural asserts still run
    jsonschema = None

try:
    import pydantic
except ImportError:
    pydantic = None

SIGNS = ["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
         "Capricorn", "Aquarius", "Pisces"]
Sign = Literal["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
               "Capricorn", "Aquarius", "Pisces"]


def generate_horoscope(sign: Sign) -> dict:
    """Give today's horoscope for an astrological sign.

    Args:
        sign: The sign for the horoscope.
    """
    return {"horoscope": f"{sign}: you will soon meet a new friend."}


# The seed's session.update tool, word for word.
SEED_TOOL = {
    "type": "function",
    "name": "generate_horoscope",
    "description": "Give today's horoscope for an astrological sign.",
    "parameters": {
        "type": "object",
        "properties": {"sign": {"type": "string", "description": "The sign for the horoscope.", "enum": SIGNS}},
        "required": ["sign"],
    },
}


def check_schema(params: dict[str, Any], valid: dict[str, Any] | None = None) -> None:
    """Structural checks always; a real JSON Schema check (and an instance) when jsonschema is there."""
    assert params["type"] == "object" and isinstance(params["properties"], dict)
    assert set(params["required"]) <= set(params["properties"])
    json.dumps(params)
    if jsonschema is not None:
        jsonschema.Draft202012Validator.check_schema(params)
        if valid is not None:
            jsonschema.validate(valid, params, cls=jsonschema.Draft202012Validator)


def test_horoscope_matches_seed() -> None:
    schema = function_schema(generate_horoscope)
    assert schema == SEED_TOOL
    check_schema(schema["parameters"], {"sign": "Aquarius"})


def test_name_and_description_overrides() -> None:
    schema = function_schema(generate_horoscope, name="horoscope", description="Stars.")
    assert (schema["name"], schema["description"]) == ("horoscope", "Stars.")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    L = 3


@dataclasses.dataclass
class Point:
    """A point on the plane."""

    x: float
    y: float = 0.0
    label: Optional[str] = None  # noqa: UP045 - the spelling under test


class _MovieBase(TypedDict):
    title: str
    year: int


class Movie(_MovieBase, total=False):
    rating: float


def every_kind(s: str, i: int, f: float, b: bool, lit: Literal["a", "b"], num: Literal[1, 2], color: Color,
               size: Size, xs: list[int], ys: List[str], pair: tuple[int, str], many: tuple[float, ...],  # noqa: UP006
               tags: set[str], m: dict[str, float], anymap: dict, maybe: Optional[int],  # noqa: UP045
               alt: int | None, union: int | str, p: Point, movie: Movie,
               note: Annotated[str, "A free-form note."], untyped, d: int = 3, e: Color = Color.GREEN) -> None:
    """Exercise every supported annotation."""


def test_every_annotation_kind() -> None:
    params = function_schema(every_kind)["parameters"]
    props = params["properties"]
    assert props["s"] == {"type": "string"}
    assert props["i"] == {"type": "integer"}
    assert props["f"] == {"type": "number"}
    assert props["b"] == {"type": "boolean"}
    assert props["lit"] == {"type": "string", "enum": ["a", "b"]}
    assert props["num"] == {"type": "integer", "enum": [1, 2]}
    assert props["color"] == {"type": "string", "enum": ["red", "green"]}
    assert props["size"] == {"type": "integer", "enum": [1, 3]}
    assert props["xs"] == {"type": "array", "items": {"type": "integer"}}
    assert props["ys"] == {"type": "array", "items": {"type": "string"}}
    assert props["pair"] == {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                             "minItems": 2, "maxItems": 2}
    assert props["many"] == {"type": "array", "items": {"type": "number"}}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert props["m"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["anymap"] == {"type": "object"}
    assert props["maybe"] == props["alt"] == {"type": "integer"}
    assert props["union"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["p"] == {"type": "object", "description": "A point on the plane.",
                          "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0},
                                         "label": {"type": "string", "default": None}},
                          "required": ["x"]}
    assert props["movie"] == {"type": "object", "properties": {
        "title": {"type": "string"}, "year": {"type": "integer"}, "rating": {"type": "number"}},
        "required": ["title", "year"]}
    assert props["note"] == {"type": "string", "description": "A free-form note."}
    assert props["untyped"] == {}
    assert props["d"] == {"type": "integer", "default": 3}
    assert props["e"] == {"type": "string", "enum": ["red", "green"], "default": "green"}
    assert params["required"] == ["s", "i", "f", "b", "lit", "num", "color", "size", "xs", "ys", "pair",
                                  "many", "tags", "m", "anymap", "union", "p", "movie", "note", "untyped"]
    check_schema(params, {
        "s": "x", "i": 1, "f": 1.5, "b": True, "lit": "a", "num": 2, "color": "red", "size": 3, "xs": [1],
        "ys": ["a"], "pair": [1, "a"], "many": [1.0], "tags": ["a"], "m": {"k": 1.0}, "anymap": {},
        "union": "u", "p": {"x": 1}, "movie": {"title": "T", "year": 1999}, "note": "n", "untyped": [1]})


if pydantic is not None:
    class Address(pydantic.BaseModel):
        city: str

    class Person(pydantic.BaseModel):
        name: str
        home: Optional[Address] = None  # noqa: UP045

    def register(person: Person) -> str:
        """Register a person."""
        return person.name


@pytest.mark.skipif(pydantic is None, reason="pydantic not installed")
def test_pydantic_models_hoist_defs() -> None:
    params = function_schema(register)["parameters"]
    assert params["properties"]["person"]["properties"]["name"]["type"] == "string"
    assert params["properties"]["person"]["required"] == ["name"]
    assert "Address" in params["$defs"]  # refs are "#/$defs/…", resolved against the parameters object
    check_schema(params, {"person": {"name": "Ada", "home": {"city": "London"}}})
    _, kwargs = Tool.from_function(register).bind('{"person": {"name": "Ada", "home": {"city": "London"}}}')
    assert kwargs["person"] == Person(name="Ada", home=Address(city="London"))


# -- docstrings ------------------------------------------------------------------------------------------

GOOGLE = '''Book a table.

    More words that are not the summary.

    Args:
        restaurant (str): Where to eat,
            continued on a second line.
        people: How many.

    Returns:
        A confirmation code.
    '''
NUMPY = '''Book a table.

    Parameters
    ----------
    restaurant : str
        Where to eat,
        continued on a second line.
    people : int
        How many.

    Returns
    -------
    str
    '''
REST = '''Book a table.

    :param restaurant: Where to eat,
        continued on a second line.
    :param int people: How many.
    :returns: A confirmation code.
    '''


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, REST], ids=["google", "numpy", "rest"])
def test_docstring_styles(doc: str) -> None:
    assert parse_docstring(doc) == ("Book a table.", {
        "restaurant": "Where to eat, continued on a second line.", "people": "How many."})

    def book(restaurant: str, people: int = 2) -> str:
        return "ok"

    book.__doc__ = doc
    schema = function_schema(book)
    assert schema["description"] == "Book a table."
    assert schema["parameters"]["properties"]["people"] == {"type": "integer", "description": "How many.",
                                                            "default": 2}


def test_multiline_summary_and_no_docstring() -> None:
    assert parse_docstring("First line\ncontinues here.\n\nBody.")[0] == "First line continues here."

    def bare(x: int) -> int:
        return x

    assert "description" not in function_schema(bare)
    assert function_schema(bare)["parameters"]["properties"]["x"] == {"type": "integer"}


# -- registration errors -----------------------------------------------------------------------------------

def test_unsupported_annotation_names_the_parameter() -> None:
    def when(at: time.struct_time) -> None: ...

    with pytest.raises(ToolError, match=r"parameter at: unsupported annotation time.struct_time"):
        function_schema(when)

    def nested(items: list[complex]) -> None: ...

    with pytest.raises(ToolError, match="parameter items: unsupported annotation complex"):
        function_schema(nested)

    def keys(m: dict[int, str]) -> None: ...

    with pytest.raises(ToolError, match="dict keys must be str"):
        function_schema(keys)


def test_star_args_and_bad_names_are_rejected() -> None:
    def star(*args: int) -> None: ...

    def kw(**kwargs: int) -> None: ...

    with pytest.raises(ToolError, match=r"\*args is not supported"):
        function_schema(star)
    with pytest.raises(ToolError, match=r"\*\*kwargs is not supported"):
        function_schema(kw)
    with pytest.raises(ToolError, match="pass name="):
        function_schema(lambda x: x)
    assert function_schema(lambda x: x, name="identity")["parameters"]["required"] == ["x"]


# -- conversion and execution --------------------------------------------------------------------------------

def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_argument_conversion() -> None:
    got = {}

    def plot(color: Color, size: Size, p: Point, movie: Movie, pair: tuple[int, str], tags: set[str],
             maybe: Optional[int], n: int = 1) -> str:  # noqa: UP045
        got.update(color=color, size=size, p=p, movie=movie, pair=pair, tags=tags, maybe=maybe, n=n)
        return "done"

    reg = ToolRegistry()
    reg.add(plot)
    args = {"color": "red", "size": 3, "p": {"x": 1, "label": "origin"}, "movie": {"title": "T", "year": 2.0},
            "pair": [1, "a"], "tags": ["a", "b", "a"]}
    assert run(reg.call("plot", json.dumps(args))) == ("done", True)
    assert got == {"color": Color.RED, "size": Size.L, "p": Point(1.0, 0.0, "origin"),
                   "movie": {"title": "T", "year": 2}, "pair": (1, "a"), "tags": {"a", "b"}, "maybe": None,
                   "n": 1}
    assert isinstance(got["p"].x, float) and isinstance(got["movie"]["year"], int)


def test_bad_arguments_become_error_outputs() -> None:
    reg = ToolRegistry()
    reg.add(generate_horoscope)
    out, ok = run(reg.call("generate_horoscope", '{"sgn": "Leo"}'))
    assert not ok
    msg = json.loads(out)["error"]
    assert msg.startswith("ToolError: invalid arguments for tool 'generate_horoscope'")
    assert "unknown argument 'sgn'" in msg and "missing required argument 'sign'" in msg
    msg = json.loads(run(reg.call("generate_horoscope", '{"sign": "Ophiuchus"}'))[0])["error"]
    assert "argument 'sign': \"Ophiuchus\" is not one of \"Aries\"" in msg
    msg = json.loads(run(reg.call("generate_horoscope", "{not json"))[0])["error"]
    assert "not valid JSON" in msg
    msg = json.loads(run(reg.call("generate_horoscope", "[1]"))[0])["error"]
    assert "must be a JSON object" in msg

    def pt(p: Point) -> None: ...

    reg.add(pt)
    msg = json.loads(run(reg.call("pt", '{"p": {"y": "high", "z": 1}}'))[0])["error"]
    assert "unknown argument 'p.z'" in msg and "argument 'p.y': expected number" in msg
    assert "missing required argument 'p.x'" in msg


def test_results_are_encoded() -> None:
    import numpy as np

    reg = ToolRegistry()
    results: dict[str, Any] = {
        "text": "plain text is sent as-is",
        "obj": {"horoscope": "good", "n": 1},
        "dc": Point(1.0),
        "np": {"mean": np.float32(0.5), "n": np.int64(3), "arr": np.arange(3)},
        "enum": [Color.RED, {1, 2}],
        "none": None,
    }
    for key, value in results.items():
        reg.add(lambda value=value: value, name=key)
    assert run(reg.call("text", "")) == ("plain text is sent as-is", True)
    assert json.loads(run(reg.call("obj", "{}"))[0]) == {"horoscope": "good", "n": 1}
    assert json.loads(run(reg.call("dc", "{}"))[0]) == {"x": 1.0, "y": 0.0, "label": None}
    assert json.loads(run(reg.call("np", "{}"))[0]) == {"mean": 0.5, "n": 3, "arr": [0, 1, 2]}
    assert json.loads(run(reg.call("enum", "{}"))[0]) == ["red", [1, 2]]
    assert run(reg.call("none", "{}")) == ("null", True)


def test_sync_tool_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    def where() -> str:
        """Report the thread."""
        seen.append(threading.get_ident())
        return "ok"

    async def main() -> tuple[int, tuple[str, bool]]:
        reg = ToolRegistry()
        reg.add(where)
        return threading.get_ident(), await reg.call("where", "{}")

    loop_thread, result = run(main())
    assert result == ("ok", True) and seen and seen[0] != loop_thread


def test_async_tool_runs_on_the_loop() -> None:
    async def fetch(city: str) -> dict:
        """Fetch the weather."""
        await asyncio.sleep(0)
        return {"city": city, "thread": threading.get_ident()}

    async def main() -> tuple[int, tuple[str, bool]]:
        reg = ToolRegistry()
        assert reg.add(fetch).is_async
        return threading.get_ident(), await reg.call("fetch", '{"city": "Oslo"}')

    loop_thread, (out, ok) = run(main())
    assert ok and json.loads(out) == {"city": "Oslo", "thread": loop_thread}


def test_exceptions_become_error_outputs() -> None:
    def boom(x: int) -> None:
        raise ValueError(f"bad x {x}")

    async def aboom() -> None:
        raise TimeoutError("upstream timed out")  # the tool's own TimeoutError is not our timeout

    reg = ToolRegistry()
    reg.add(boom)
    reg.add(aboom)
    assert run(reg.call("boom", '{"x": 2}')) == (json.dumps({"error": "ValueError: bad x 2"}), False)
    assert run(reg.call("aboom", "{}")) == (json.dumps({"error": "TimeoutError: upstream timed out"}), False)


def test_timeouts() -> None:
    def slow_sync() -> str:
        time.sleep(0.5)
        return "late"

    async def slow_async() -> str:
        await asyncio.sleep(10)
        return "late"

    reg = ToolRegistry()
    reg.add(slow_sync)
    reg.add(slow_async)
    t0 = time.monotonic()
    assert run(reg.call("slow_async", "{}", timeout=0.05)) == (
        json.dumps({"error": "tool 'slow_async' timed out after 0.05s"}), False)
    assert time.monotonic() - t0 < 2
    out, ok = run(reg.call("slow_sync", "{}", timeout=0.05))
    assert not ok and json.loads(out) == {"error": "tool 'slow_sync' timed out after 0.05s"}


def test_unknown_tool_names_the_available_ones() -> None:
    reg = ToolRegistry()
    reg.add(generate_horoscope)
    out, ok = run(reg.call("horoscope", "{}"))
    assert not ok
    assert json.loads(out) == {"error": "unknown tool 'horoscope'; available tools: generate_horoscope"}


def test_registry_basics_and_threads() -> None:
    reg = ToolRegistry()
    tool = reg.add(generate_horoscope)
    assert isinstance(tool, Tool) and tool.schema == SEED_TOOL and not tool.is_async
    assert "generate_horoscope" in reg and len(reg) == 1 and reg.get("generate_horoscope") is tool
    assert reg.schemas() == [SEED_TOOL]
    reg.add(generate_horoscope, description="Replaced.")  # re-running a cell replaces the tool
    assert len(reg) == 1 and reg.schemas()[0]["description"] == "Replaced."
    tool.schema["parameters"]["required"].clear()  # schemas are copies
    assert tool.schema == SEED_TOOL
    assert reg.remove("generate_horoscope").name == "generate_horoscope"
    assert len(reg) == 0 and reg.get("generate_horoscope") is None
    with pytest.raises(KeyError):
        reg.remove("generate_horoscope")

    def add_many(k: int) -> None:
        for j in range(50):
            reg.add(lambda: None, name=f"t{k}_{j}")
            reg.schemas()

    threads = [threading.Thread(target=add_many, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(reg) == 400


def test_positional_only_and_methods() -> None:
    class Calc:
        def __init__(self) -> None:
            self.base = 10

        def add(self, x: int, /, y: int = 0) -> int:
            """Add to the base."""
            return self.base + x + y

    reg = ToolRegistry()
    reg.add(Calc().add)
    assert function_schema(Calc().add)["parameters"]["required"] == ["x"]
    assert run(reg.call("add", '{"x": 1, "y": 2}')) == ("13", True)


class Weather:
    """Get the weather.

    Args:
        city: The city.
    """

    def __call__(self, city: str, unit: Literal["C", "F"] = "C") -> dict:
        return {"city": city, "unit": unit}


async def fetch_count(city: str, n: int) -> int:
    """Count things in a city."""
    return n


def test_callable_objects_and_partials() -> None:
    import functools

    schema = function_schema(Weather(), name="weather")
    assert schema["description"] == "Get the weather."  # the class doc, not object.__call__'s
    assert schema["parameters"]["properties"]["city"] == {"type": "string", "description": "The city."}
    reg = ToolRegistry()
    tool = reg.add(functools.partial(fetch_count, n=2))
    assert tool.name == "fetch_count" and tool.is_async and tool.parameters["required"] == ["city"]
    assert run(reg.call("fetch_count", '{"city": "Oslo"}')) == ("2", True)
