"""Character classes the tokenizers share.

``WHITESPACE`` is Unicode's White_Space property: the set llama.cpp's ``unicode_set_whitespace``
holds and Rust's ``char::is_whitespace`` (HF tokenizers) tests. Python's ``str.isspace`` and the
``regex`` module's ``\\s`` also count U+001C..U+001F, which neither reference does.
"""

WHITESPACE_CLASS = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                       + "".join(chr(c) for c in range(0x2000, 0x200B)))
