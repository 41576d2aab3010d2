"""Where a review comment points, checked against the patch's diff: the diff lines it gets as
context, and the one-line refusals of a comment that points outside the patch."""

from __future__ import annotations

import pytest

from engine.review.comments import CommentError, ReviewComment, check_body, locate, render
from schemas.patch import COMMENT_MAX_BYTES

DIFF = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,4 +1,5 @@
 import sys
+import os
{blank}
{blank}
 def main():
@@ -20,3 +21,3 @@ def main():
     x = 1
-    return x
+    return x + 1
 # end
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
""".replace("{blank}", " ")


def test_a_line_comment_gets_the_lines_around_it_marked() -> None:
    context = locate(DIFF, ReviewComment("use pathlib", "app.py", 2))
    assert context.splitlines() == ["@@ -1,4 +1,5 @@", "   import sys", "> +import os", "   ", "   ",
                                    "   def main():"]
    # A line after a removed one is counted on the new side.
    assert "> +    return x + 1" in locate(DIFF, ReviewComment("why +1?", "app.py", 22))


def test_a_hunk_comment_gets_its_hunk_and_a_file_comment_its_hunk_headers() -> None:
    assert locate(DIFF, ReviewComment("b", "app.py", hunk=1)).splitlines()[0] == "@@ -20,3 +21,3 @@ def main():"
    assert locate(DIFF, ReviewComment("b", "app.py")) == "@@ -1,4 +1,5 @@\n@@ -20,3 +21,3 @@ def main():"
    assert locate(DIFF, ReviewComment("b")) == ""


@pytest.mark.parametrize(("comment", "message"), [
    (ReviewComment("b", "app.py", 10), "line 10 of app.py is not in the patch; it shows lines 1-5, 21-23 of app.py"),
    (ReviewComment("b", "gone.txt", 1), "line 1 of gone.txt is not in the patch; it shows no new lines of gone.txt"),
    (ReviewComment("b", "nope.py", 1), "nope.py is not in the patch (its files: app.py, gone.txt)"),
    (ReviewComment("b", "app.py", hunk=2), "app.py has no hunk 2 in the patch; its hunks are 0 to 1"),
    (ReviewComment("b", "app.py", hunk=-1), "app.py has no hunk -1 in the patch; its hunks are 0 to 1"),
    (ReviewComment("b", "gone.txt", hunk=1), "gone.txt has no hunk 1 in the patch; its only hunk is 0"),
    (ReviewComment("b", None, 3), "a comment on a line or a hunk needs the file it is in (--file)"),
    (ReviewComment("b", "app.py", 2, 0), "a comment is on a line or on a hunk, not both (--line or --hunk)"),
])
def test_a_comment_outside_the_patch_is_refused_in_one_line(comment: ReviewComment, message: str) -> None:
    with pytest.raises(CommentError) as info:
        locate(DIFF, comment)
    assert str(info.value) == message


def test_a_comment_needs_text_and_is_bounded() -> None:
    assert check_body("  fix it \n") == "fix it"
    with pytest.raises(CommentError, match="needs some text"):
        check_body(" \n")
    with pytest.raises(CommentError, match=f"at most {COMMENT_MAX_BYTES} bytes"):
        check_body("é" * COMMENT_MAX_BYTES)


def test_rendered_comments_put_the_whole_patch_first_then_each_place_with_its_context() -> None:
    text = render([ReviewComment("why +1?", "app.py", 22), ReviewComment("split this patch"),
                   ReviewComment("use pathlib", "app.py", 2)], DIFF)
    first, second, third = text.rstrip().split("\n\n")
    assert first == "1. On the whole patch:\n   split this patch"
    assert second.startswith("2. On app.py:2:\n   use pathlib\n   Diff there (> marks the line):\n")
    assert "   > +import os" in second
    assert third.startswith("3. On app.py:22:\n   why +1?") and "> +    return x + 1" in third
    assert render([], DIFF) == ""
