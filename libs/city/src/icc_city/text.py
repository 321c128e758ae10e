"""Vietnamese text as people type it: folded so that "cho ben thanh" finds "Chợ Bến Thành"."""

import unicodedata


def fold_vietnamese(text: str) -> str:
    """Lower case without diacritics (đ as d), so "chay nha" matches "Cháy nhà"."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
