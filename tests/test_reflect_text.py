"""The rules the compact profile relies on: names, in-place questions, self-containment."""

from __future__ import annotations

from memo.reflect.steps import Fact, reverse_question, rule_questions
from memo.reflect.text import absolute_time, entities, entity_type, resolve_leading_pronoun, self_containment_problems


def test_entities_skip_sentence_adverbs_and_possessives():
    text = "Instead, the vote failed. Ultimately Barcelona won the Copa del Rey. Messi's goals came in Lyon."
    assert entities(text) == ["Barcelona", "Copa del Rey", "Messi", "Lyon"]


def test_entity_types_from_words_and_context():
    assert entity_type("Lumen Bakery") == "organisation"
    assert entity_type("Orla River") == "place"
    assert entity_type("Marie Dubois") == "person"
    assert entity_type("Lyon", "She was born in Lyon.") == "place"
    assert entity_type("Golden Whisk Award") == "thing"


def test_in_place_questions_keep_the_fact_and_ask_for_one_element():
    fact = Fact("Marie Dubois founded the Lumen Bakery in Veldmark in 1998.", "d", "c", "Marie Dubois",
                ["Marie Dubois", "Lumen Bakery", "Veldmark"])
    qs = rule_questions(fact)
    assert qs[0] == "Marie Dubois founded the Lumen Bakery in Veldmark in which year?"
    assert "Marie Dubois founded which organisation in Veldmark in 1998?" in qs
    count = Fact("The society monitors Mount Tirell with twelve seismometers.", "d", "c", None, ["Mount Tirell"])
    assert "The society monitors Mount Tirell with how many seismometers?" in rule_questions(count)
    span = Fact("Telmo Zarra was top scorer between 1945 and 1953.", "d", "c", "Telmo Zarra", ["Telmo Zarra"])
    assert rule_questions(span)[0] == "Telmo Zarra was top scorer between 1945 and which year?"


def test_reverse_questions_hide_the_name():
    s = "Marie Dubois founded the Lumen Bakery in 1998."
    assert reverse_question(s, "Marie Dubois") == "Who founded the Lumen Bakery in 1998?"
    assert reverse_question(s, "Lumen Bakery") == "Marie Dubois founded which organisation in 1998?"
    assert reverse_question(s, "Harlow") is None


def test_pronouns_and_relative_time_resolved_by_rule():
    assert resolve_leading_pronoun("She was born in Lyon.", "Marie Dubois") == "Marie Dubois was born in Lyon."
    assert resolve_leading_pronoun("His shop opened.", "Tomas Kell") == "Tomas Kell's shop opened."
    assert absolute_time("The bakery closed last year.", "2019-04-02") == "The bakery closed in 2018."


def test_self_containment_rules():
    ok = self_containment_problems("Who founded the Lumen Bakery?", "Marie Dubois founded it in 1998.")
    assert ok == []
    assert "unresolved pronoun" in self_containment_problems("When was she born?", "In 1970.")
    assert "relative time" in self_containment_problems("What did Kell do last year?", "Kell wrote a book.")
    assert "document reference" in self_containment_problems("What does the passage say about Kell?", "A lot.")
    assert "vague reference" in self_containment_problems("What did the company sell?", "Bread.")
    assert self_containment_problems("Which place erupted in 1932?", "Mount Tirell.", need_anchor=False) == []
