"""The rule engine: the query language, rules.yaml, matching, explanations and snippets.

See docs/rules.md for the language; ``engine.py`` explains how matching stays fast.
"""

from watcher.rules.compiler import Rule
from watcher.rules.engine import RuleSet
from watcher.rules.explain import Explainer, Explanation, explain
from watcher.rules.loader import check_rules, load_rules
from watcher.rules.parser import compile_query
from watcher.rules.query import Query, QuerySyntaxError
from watcher.rules.snippet import Snippet, best_snippet, snippet

__all__ = ["Explainer", "Explanation", "Query", "QuerySyntaxError", "Rule", "RuleSet", "Snippet",
           "best_snippet", "check_rules", "compile_query", "explain", "load_rules", "snippet"]
