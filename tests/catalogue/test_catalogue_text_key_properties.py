"""Properties of the comparison key: whatever noise it removes, it never removes what a number means.

``meaning`` below is written from the README's promise, not from the key's code: the numbers of a text in order
(digits with their decimal points, or Chinese numerals — one that reads as an integer is that integer), each with
the comparison sign or range mark written right before it and the ``%`` right after it. The key must keep all of
it — so two texts with the same key say the same numbers — while typing noise (width, spaces, list punctuation,
brackets) leaves the key as it was.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gateway.catalogue import text_key
from gateway.catalogue.entry import TimeLimit

NUMERALS = "〇零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟"
DASHES = "-‐‑‒–—―−~〜"
_SIGNS = {ord("‹"): "<", ord("›"): ">", ord("≦"): "≤", ord("⩽"): "≤", ord("≧"): "≥", ord("⩾"): "≥"}
_NUMBER = re.compile(rf"[0-9]+(?:\.[0-9]+)*|[{NUMERALS}]+")

Meaning = list[tuple[str | None, str, str]]


def _integer(number: str) -> str:
    """A Chinese numeral the time limits read as an integer (``十二``) is that integer (``12``), as the README says;
    any other number as written."""
    if number[0].isdigit():
        return number
    try:
        return str(TimeLimit.parse(f"{number}日").days)
    except ValueError:
        return number


def meaning(text: str) -> Meaning:
    """``[(mark before, number, percent after)]``: ``面积≥1.5万平方米`` → ``[("≥", "1.5", ""), (None, "万", "")]``.

    Read on the text as NFKC makes it, without whitespace (a space inside ``1 8`` is a stray space). The mark
    before a number in digits: a comparison sign (``<=`` is ``≤``) or a dash/tilde ending the text since the
    previous number; before any number: ``至``/``到`` or dashes that are *all* that stands since the previous one.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_SIGNS)
    t = "".join(c for c in folded if unicodedata.category(c)[0] not in "ZC")
    out: Meaning = []
    previous: int | None = None
    for match in _NUMBER.finditer(t):
        before = t[previous or 0:match.start()]
        number = _integer(match.group())
        digits = number[0].isdigit()
        mark: str | None = None
        if digits and before[-2:] in ("<=", ">="):
            mark = "≤" if before[-2] == "<" else "≥"
        elif digits and before[-1:] and before[-1] in "<>≤≥":
            mark = before[-1]
        elif digits and before[-1:] and before[-1] in DASHES:
            mark = "~"
        elif previous is not None and (before in ("至", "到") or (before and all(c in DASHES for c in before))):
            mark = "~"
        after = t[match.end():match.end() + 1]
        out.append((mark, number, after if after and after in "%‰‱" else ""))
        previous = match.end()
    return out


# What clerks type: digits of both widths, Chinese numerals, words, list and sentence punctuation, brackets,
# comparison signs, range marks, decimal points, percent, currency, spaces of every kind.
_ALPHABET = ("0123456789０１２３４５６７８９" "一二十百两万" "面积元条第件周岁平方米至到内年满日" "abcABC"
             "、，,；;／/|。．.：:！!？" "（）()《》<>〈〉【】[]“”\"'" "<>‹›＜＞≤≥≦≧=＝" "-–—～~〜−－"
             "%％‰¥$+×#&@" " \u3000\t\n\u200b")
texts = st.text(alphabet=_ALPHABET, max_size=30)


@settings(max_examples=3000, deadline=None)
@given(texts)
@example("每件收费1.5元")
@example("《条例》第2-3条")
@example("3 ～ 5个工作日")
@example("面积＞100平方米，年龄<=60周岁")
@example("第十、二条")
@example("<2、≤、3至、5%")
def test_the_key_keeps_what_every_number_means(text: str) -> None:
    assert meaning(text_key(text)) == meaning(text)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="12.、 -~至<>≤%元十二", max_size=8), st.text(alphabet="12.、 -~至<>≤%元十二", max_size=8))
def test_texts_with_the_same_key_say_the_same_numbers(a: str, b: str) -> None:
    """The brief's statement, on a small alphabet where equal keys are common."""
    if text_key(a) == text_key(b):
        assert meaning(a) == meaning(b), (a, b, text_key(a))


_WORDS = st.text(alphabet="申请书身份证明营业执照户口簿自然人企业法人第条款元件", min_size=1, max_size=6)
_NUMBERS = st.one_of(st.integers(0, 10_000).map(str), st.decimals(0, 1000, places=2).map(str),
                     st.sampled_from(["≥18", "<100", "3～5", "2-3", "50%", "1.5万"]))
_AROUND = st.one_of(st.just(""), _WORDS)  # an item may begin or end with its number: 12、3 is not 123
_ITEMS = st.lists(st.tuples(_AROUND, st.one_of(st.none(), _NUMBERS), _AROUND), min_size=1, max_size=4)
_LIST_SEPARATORS = ["、", "，", ",", "；", ";", "／", "/"]
_FULL_WIDTH = str.maketrans("0123456789()<>%~-.,;/", "０１２３４５６７８９（）＜＞％～－．，；／")


@settings(max_examples=1000, deadline=None)
@given(_ITEMS, st.sampled_from(_LIST_SEPARATORS), st.sampled_from(_LIST_SEPARATORS), st.randoms(use_true_random=False),
       st.booleans(), st.booleans())
def test_typing_noise_leaves_the_key_alone(items: list[tuple[str, str | None, str]], sep: str, other_sep: str,
                                           rng: object, full_width: bool, sentence_end: bool) -> None:
    """The same list typed again: another list separator, full width, stray spaces anywhere, a closing 。,
    the first item in 《》 or <> — the key is the same."""
    def typed(separator: str, *, noisy: bool) -> str:
        parts = [f"{a}{n or ''}{b}" for a, n, b in items]
        if noisy:
            parts[0] = f"《{parts[0]}》" if sep != other_sep else f"<{parts[0]}>"
        text = separator.join(parts)
        if not noisy:
            return text
        if full_width:
            text = text.translate(_FULL_WIDTH)
        chars = list(text)
        for _ in range(rng.randint(0, 4)):  # type: ignore[attr-defined]
            chars.insert(rng.randint(0, len(chars)), rng.choice([" ", "\u3000", "\t"]))  # type: ignore[attr-defined]
        return "".join(chars) + ("。" if sentence_end else "")

    clean = typed(sep, noisy=False)
    assume(not clean[:1].isdigit() and clean[:1] not in "<≥")  # a title in <> must not begin with a number
    assert text_key(typed(other_sep, noisy=True)) == text_key(clean)
