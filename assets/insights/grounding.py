"""Is a GPT sentence grounded in its facts? Every number and every name it quotes must be there.

No Dagster and no network here. A model asked to phrase "Петров: 100 000 ₽ из 1 200 000 ₽" may still
write "150 000 ₽" or name a manager who is not in the facts; the head of sales would act on it. So
each phrased insight is held to the lines it was written from, and one that quotes anything else is
replaced by the template text (phrasing.write_insights), with the reason this module gives.

Numbers: every run of digits (thousands separated by spaces, a decimal comma or point, dates
dd.mm.yyyy) must occur in the facts in the same normalised form, so "1 234 567 ₽" and "1234567"
match but a rounded "1,2 млн" does not: the prompt asks for the figures exactly as written.
Names: a capitalised word inside a sentence must match a capitalised word of the facts up to a
Russian case ending ("Петрову" is "Петров"). The word opening a sentence is not checked (it cannot be
told from an ordinary first word, "У", "Сегодня", without a dictionary), but the second half of a
full name is ("Смирнов Олег ..." fails on "Олег"); a one-word invented name opening a sentence is
the check's known gap.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:[ \u00a0\u202f]\d{3})*(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-zА-Яа-яЁё][A-Za-zА-Яа-яЁё\-]*")
_SENTENCE_END = re.compile(r"[.!?…]\s*$")
# words a recommendation may capitalise without them being facts (product names, the reader's title)
COMMON_CAPITALISED = {"роп", "crm", "telegram", "дн", "план", "прогноз"}
MAX_ENDING = 3  # Russian case endings: Петров -> Петровым (+2), Сидорова -> Сидоровой (+1)


def numbers_in(text: str) -> set[str]:
    """Normalised numbers of a text: '1 234 567' -> '1234567', '8,5' -> '8.5', '10.03.2025' as is."""
    found = set()
    for match in _NUMBER.findall(text):
        digits = re.sub(r"[ \u00a0\u202f]", "", match).replace(",", ".")
        found.add(digits.rstrip("."))
    return found


def _fold(word: str) -> str:
    return word.lower().replace("ё", "е")


def names_in(text: str) -> set[str]:
    """Capitalised words that can be names: every one not opening a sentence."""
    names: set[str] = set()
    for match in _WORD.finditer(text):
        before = text[: match.start()]
        if match.group()[0].isupper() and before.strip() and not _SENTENCE_END.search(before):
            names.add(match.group())
    return names


def _same_name(word: str, known: str) -> bool:
    """'Петровым' is 'Петров', 'Пётр' is 'Петра'; 'Смирнов' is not 'Сидоров'."""
    a, b = _fold(word), _fold(known)
    shared = len(next((a[:n] for n in range(min(len(a), len(b)), 0, -1) if a[:n] == b[:n]), ""))
    return shared >= 3 and shared >= max(len(a), len(b)) - MAX_ENDING


def ungrounded(answer: str, facts_text: str) -> str | None:
    """Why `answer` is not grounded in `facts_text` (the first number or name not there), or None."""
    missing = sorted(numbers_in(answer) - numbers_in(facts_text))
    if missing:
        return f"the number {missing[0]} is not in the facts"
    known = {w.group() for w in _WORD.finditer(facts_text) if w.group()[0].isupper()}
    for name in sorted(names_in(answer)):
        if _fold(name) in COMMON_CAPITALISED:
            continue
        if not any(_same_name(name, k) for k in known):
            return f"the name {name} is not in the facts"
    return None
