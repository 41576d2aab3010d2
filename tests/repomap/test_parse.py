"""One file's tags, per language, on small snippets written the way each language's own
projects write them: what is defined (name, kind, line, signature) and what is used."""

from __future__ import annotations

import pytest

from engine.repomap.languages import EXTENSIONS, LANGUAGES, language_of
from engine.repomap.parse import MAX_FILE_BYTES, Unparsable, check_text, read_tags

PYTHON = b'''\
import os
from .api import PlatformDirsABC

MAX_DEPTH = 3


class Unix(PlatformDirsABC):
    """Unix directories."""

    @property
    def user_data_dir(self) -> str:
        return self._append_app_name_and_version(os.path.expanduser("~/.local/share"))

    def _helper(self,
                path: str) -> Path:
        return Path(path)


def build(depth: int = MAX_DEPTH) -> Unix:
    return Unix()
'''

TYPESCRIPT = b'''\
import { Injectable } from "./di";

export interface Store<T> {
  get(key: string): T | undefined;
}

export type Key = string;

export enum Mode { Read, Write }

@Injectable()
export class MemoryStore<T> implements Store<T> {
  private items = new Map<Key, T>();

  get(key: Key): T | undefined {
    return this.items.get(key);
  }
}

export const makeStore = <T>(): Store<T> => new MemoryStore<T>();

export function open(mode: Mode): Store<number> {
  return makeStore();
}
'''

JAVASCRIPT = b'''\
import { render } from "./dom.js";

export class Counter extends Component {
  increment() {
    this.setState({ count: this.state.count + 1 });
  }
}

export function mount(el) {
  return render(new Counter(), el);
}

const shout = (text) => text.toUpperCase();
'''

GO = b'''\
package server

import "net/http"

const DefaultPort = 8080

type Handler interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request)
}

type Server struct {
	Addr    string
	handler Handler
}

func New(addr string) *Server {
	return &Server{Addr: addr}
}

func (s *Server) ListenAndServe() error {
	return http.ListenAndServe(s.Addr, s.handler)
}
'''

RUST = b'''\
use std::collections::HashMap;
use crate::error::ParseError;

pub struct Config {
    values: HashMap<String, String>,
}

pub trait Source {
    fn read(&self) -> Result<String, ParseError>;
}

impl Config {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let values = split_lines(text)?;
        Ok(Config { values })
    }
}

fn split_lines(text: &str) -> Result<HashMap<String, String>, ParseError> {
    todo!()
}
'''

JAVA = b'''\
package org.example.cache;

import java.util.Map;

public class LruCache<K, V> implements Cache<K, V> {
    private final Map<K, V> entries;

    public LruCache(int capacity) {
        this.entries = new LinkedMap<>(capacity);
    }

    @Override
    public V get(K key) {
        return entries.get(key);
    }
}

interface Cache<K, V> {
    V get(K key);
}
'''


def defs(language: str, text: bytes) -> dict[str, tuple[str, int, str]]:
    return {d.name: (d.kind, d.line, d.signature) for d in read_tags(language, text).definitions}


def test_python_definitions_signatures_and_uses() -> None:
    tags = read_tags("python", PYTHON)
    found = {d.name: d for d in tags.definitions}
    assert set(found) == {"MAX_DEPTH", "Unix", "user_data_dir", "_helper", "build"}
    assert (found["Unix"].kind, found["Unix"].line, found["Unix"].signature) == (
        "class", 7, "class Unix(PlatformDirsABC):")
    assert found["user_data_dir"].indent == 4 and found["user_data_dir"].signature == "def user_data_dir(self) -> str:"
    assert found["_helper"].signature == "def _helper(self, path: str) -> Path:"  # two lines, joined
    assert found["MAX_DEPTH"].kind == "constant"
    refs = tags.references
    assert refs["PlatformDirsABC"] == 2  # imported, inherited
    assert refs["_append_app_name_and_version"] == 1 and refs["Unix"] == 2  # a call; the return type and a call
    assert "path" not in refs and "depth" not in refs  # local names say nothing
    assert refs["MAX_DEPTH"] == 1  # its definition is no use of it


def test_typescript_definitions_and_uses() -> None:
    found = defs("typescript", TYPESCRIPT)
    assert {name: kind for name, (kind, _, _) in found.items()} == {
        "Store": "interface", "get": "method", "Key": "type", "Mode": "enum", "MemoryStore": "class",
        "makeStore": "function", "open": "function"}
    assert found["open"][2] == "export function open(mode: Mode): Store<number>"  # up to its body
    refs = read_tags("typescript", TYPESCRIPT).references
    assert refs["Store"] >= 3 and refs["Injectable"] == 2 and refs["makeStore"] == 1


def test_tsx_and_javascript() -> None:
    tsx = b"export function App(props: Props) {\n  return <Counter start={props.start} />;\n}\n"
    assert defs("tsx", tsx) == {"App": ("function", 1, "export function App(props: Props)")}
    assert read_tags("tsx", tsx).references == {"Props": 1, "Counter": 1}
    found = defs("javascript", JAVASCRIPT)
    assert {name: kind for name, (kind, _, _) in found.items()} == {
        "Counter": "class", "increment": "method", "mount": "function", "shout": "function"}
    refs = read_tags("javascript", JAVASCRIPT).references
    assert refs["render"] == 2 and refs["Component"] == 1 and refs["setState"] == 1


def test_go_definitions_and_uses() -> None:
    found = defs("go", GO)
    assert {name: kind for name, (kind, _, _) in found.items()} == {
        "DefaultPort": "constant", "Handler": "type", "Server": "type", "New": "function",
        "ListenAndServe": "method"}
    assert found["ListenAndServe"][2] == "func (s *Server) ListenAndServe() error"
    refs = read_tags("go", GO).references
    assert refs["Server"] == 3 and refs["Handler"] == 1 and refs["ListenAndServe"] == 1


def test_rust_definitions_and_uses() -> None:
    assert [(d.name, d.kind) for d in read_tags("rust", RUST).definitions] == [
        ("Config", "struct"), ("Source", "trait"), ("read", "function"), ("Config", "impl"), ("parse", "function"),
        ("split_lines", "function")]
    found = defs("rust", RUST)
    assert found["parse"][2] == "pub fn parse(text: &str) -> Result<Self, ParseError>"
    refs = read_tags("rust", RUST).references
    assert refs["ParseError"] == 4 and refs["split_lines"] == 1 and refs["HashMap"] == 3


def test_java_definitions_and_uses() -> None:
    found = defs("java", JAVA)
    assert {name: kind for name, (kind, _, _) in found.items()} == {
        "LruCache": "constructor", "get": "method", "Cache": "interface"}
    assert found["Cache"][2] == "interface Cache<K, V>"
    refs = read_tags("java", JAVA).references
    assert refs["Cache"] == 1 and refs["LinkedMap"] == 1 and refs["Map"] == 2


def test_every_language_has_its_grammar_offline_and_its_extensions() -> None:
    for name in LANGUAGES:
        assert read_tags(name, b"").definitions == ()
    assert set(EXTENSIONS.values()) == set(LANGUAGES)
    assert language_of("src/App.TSX") == "tsx" and language_of("README.md") is None


def test_a_syntax_error_is_unparsable_with_its_line() -> None:
    with pytest.raises(Unparsable, match="syntax error at line 3"):
        read_tags("python", b"def fine():\n    return 1\ndef broken(:\n    pass\n")
    with pytest.raises(Unparsable, match="syntax error at line 2"):
        read_tags("go", b"package x\nfunc (\n")


@pytest.mark.parametrize(("data", "why"), [
    (b"x = 1\n\0\0\0binary", "binary"),
    (b"x = 1\n" * (MAX_FILE_BYTES // 6 + 1), "larger than 1 MiB"),
    (b"var a=" + b"1+" * 5000 + b"1;\n", "minified or generated (a line of 10,008 characters)"),
], ids=["binary", "huge", "minified"])
def test_binary_huge_and_minified_text_is_not_read(data: bytes, why: str) -> None:
    with pytest.raises(Unparsable, match=why.replace("(", r"\(").replace(")", r"\)")):
        check_text(data)
