"""The languages a repository map reads: which file is which language, its tree-sitter grammar
and the two queries run on it.

The grammars are the tree-sitter organisation's own wheels (``tree-sitter-python`` and so on,
MIT): each carries its compiled parser, so nothing is downloaded when a language is first
used. They are imported only when a file of that language has to be parsed, so a map whose
files are all in the cache loads none of them.

Per language, the definitions query captures each definition's node (``@def.KIND``) and its name
(``@name``); the references query captures the names a file uses (``@ref``). A definition's own
name may be captured as a use too: the parser takes it off the references again.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

PYTHON = """
(class_definition name: (identifier) @name) @def.class
(function_definition name: (identifier) @name) @def.function
(module (expression_statement (assignment left: (identifier) @name) @def.constant))
"""

_JS_COMMON = """
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: (property_identifier) @name) @def.method
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @def.function
"""

JAVASCRIPT = _JS_COMMON + """
(class_declaration name: (identifier) @name) @def.class
"""

TYPESCRIPT = _JS_COMMON + """
(class_declaration name: (type_identifier) @name) @def.class
(abstract_class_declaration name: (type_identifier) @name) @def.class
(interface_declaration name: (type_identifier) @name) @def.interface
(type_alias_declaration name: (type_identifier) @name) @def.type
(enum_declaration name: (identifier) @name) @def.enum
(function_signature name: (identifier) @name) @def.function
(method_signature name: (property_identifier) @name) @def.method
(abstract_method_signature name: (property_identifier) @name) @def.method
"""

GO = """
(function_declaration name: (identifier) @name) @def.function
(method_declaration name: (field_identifier) @name) @def.method
(type_spec name: (type_identifier) @name) @def.type
(source_file (const_declaration (const_spec name: (identifier) @name) @def.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @def.variable))
"""

RUST = """
(function_item name: (identifier) @name) @def.function
(function_signature_item name: (identifier) @name) @def.function
(struct_item name: (type_identifier) @name) @def.struct
(enum_item name: (type_identifier) @name) @def.enum
(union_item name: (type_identifier) @name) @def.union
(trait_item name: (type_identifier) @name) @def.trait
(type_item name: (type_identifier) @name) @def.type
(mod_item name: (identifier) @name) @def.module
(macro_definition name: (identifier) @name) @def.macro
(const_item name: (identifier) @name) @def.constant
(static_item name: (identifier) @name) @def.static
(impl_item type: (type_identifier) @name) @def.impl
"""

JAVA = """
(class_declaration name: (identifier) @name) @def.class
(interface_declaration name: (identifier) @name) @def.interface
(enum_declaration name: (identifier) @name) @def.enum
(record_declaration name: (identifier) @name) @def.record
(annotation_type_declaration name: (identifier) @name) @def.annotation
(method_declaration name: (identifier) @name) @def.method
(constructor_declaration name: (identifier) @name) @def.constructor
"""


#: What counts as using a name: calling it, naming it as a type, importing it, inheriting from
#: it, and any capitalised name (classes and constants). Plain lower-case names are left out on
#: purpose: they are mostly local variables, and a variable called ``text`` says nothing about a
#: function called ``text`` in another file.
CAPITALISED = '((identifier) @ref (#match? @ref "^[A-Z]"))'

PYTHON_REFERENCES = CAPITALISED + """
(call function: [(identifier) @ref (attribute attribute: (identifier) @ref)])
(decorator [(identifier) @ref (attribute attribute: (identifier) @ref)])
(import_from_statement name: [(dotted_name (identifier) @ref .) (aliased_import name: (dotted_name (identifier) @ref .))])
(type [(identifier) @ref (attribute attribute: (identifier) @ref)])
(generic_type (identifier) @ref)
(class_definition superclasses: (argument_list [(identifier) @ref (attribute attribute: (identifier) @ref)]))
"""

_JS_REFERENCES = CAPITALISED + """
(call_expression function: [(identifier) @ref (member_expression property: (property_identifier) @ref)])
(new_expression constructor: [(identifier) @ref (member_expression property: (property_identifier) @ref)])
(import_specifier name: (_) @ref)
"""
JAVASCRIPT_REFERENCES = _JS_REFERENCES + """
(class_heritage (identifier) @ref)
(jsx_opening_element name: (identifier) @ref)
(jsx_self_closing_element name: (identifier) @ref)
"""
TYPESCRIPT_REFERENCES = _JS_REFERENCES + """
(extends_clause value: (identifier) @ref)
(type_identifier) @ref
"""
TSX_REFERENCES = TYPESCRIPT_REFERENCES + """
(jsx_opening_element name: (identifier) @ref)
(jsx_self_closing_element name: (identifier) @ref)
"""

GO_REFERENCES = """
(call_expression function: [(identifier) @ref (selector_expression field: (field_identifier) @ref)])
(type_identifier) @ref
"""

RUST_REFERENCES = """
(call_expression function: [(identifier) @ref (field_expression field: (field_identifier) @ref)
                            (scoped_identifier name: (identifier) @ref)])
(macro_invocation macro: (identifier) @ref)
(type_identifier) @ref
(use_declaration argument: [(identifier) @ref (scoped_identifier name: (identifier) @ref)])
(use_list [(identifier) @ref (scoped_identifier name: (identifier) @ref)])
"""

JAVA_REFERENCES = CAPITALISED + """
(method_invocation name: (identifier) @ref)
(type_identifier) @ref
"""


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str  # the grammar's Python package
    function: str  # its function that returns the language pointer
    definitions: str
    references: str


LANGUAGES: dict[str, LanguageSpec] = {spec.name: spec for spec in (
    LanguageSpec("python", "tree_sitter_python", "language", PYTHON, PYTHON_REFERENCES),
    LanguageSpec("javascript", "tree_sitter_javascript", "language", JAVASCRIPT, JAVASCRIPT_REFERENCES),
    LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", TYPESCRIPT, TYPESCRIPT_REFERENCES),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", TYPESCRIPT, TSX_REFERENCES),
    LanguageSpec("go", "tree_sitter_go", "language", GO, GO_REFERENCES),
    LanguageSpec("rust", "tree_sitter_rust", "language", RUST, RUST_REFERENCES),
    LanguageSpec("java", "tree_sitter_java", "language", JAVA, JAVA_REFERENCES),
)}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
}


def language_of(path: str) -> str | None:
    """The language of a file by its name, or None when the map does not read it."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


@dataclass(frozen=True)
class Grammar:
    """A language ready to parse: its parser and its two compiled queries."""

    parser: Any
    definitions: Any
    references: Any


@cache
def grammar(name: str) -> Grammar:
    """The parser and queries of a language, loaded once per process."""
    import tree_sitter

    spec = LANGUAGES[name]
    language = tree_sitter.Language(getattr(importlib.import_module(spec.module), spec.function)())
    return Grammar(tree_sitter.Parser(language), tree_sitter.Query(language, spec.definitions),
                   tree_sitter.Query(language, spec.references))
