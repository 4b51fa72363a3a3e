"""Malformed label_file and csv_text sources, each with the checker's exact
messages (run by tests/test_data_check.py).

Each case writes a small dataset in the source's real format with one defect
(or a few) and returns (data config fields, expected `file:line: message`s).
"""

import os

from tests import data_files

CASES = {}
case = data_files.registrar(CASES)
GOOD_LINES = ["a.png 0 0", "b.jpg 0 1", "c.png 1 2", "d.jpg 1 3"]
SPARE_IMAGES = ["e.png", "f.jpg"]


def write_images(root):
  for i, name in enumerate(["a.png", "b.jpg", "c.png", "d.jpg"] + SPARE_IMAGES):
    data_files.write_image(os.path.join(root, name),
                           data_files.image_pixels(i % 4))


def label_files(root, train_extra=(), test_lines=None, train=None):
  """Good images; train = GOOD_LINES + extra (lines 5...), test = GOOD_LINES."""
  write_images(root)
  files = {"train.txt": train or GOOD_LINES + list(train_extra),
           "test.txt": test_lines or GOOD_LINES}
  for name, lines in files.items():
    with open(os.path.join(root, name), "w", encoding="utf-8") as f:
      f.write("\n".join(lines) + "\n")
  return {"dataset": "label_file", "data_dir": root}


# ---- label_file
@case
def missing_image(root):
  return (label_files(root, ["nope.png 0 0"]),
          [f"{root}/train.txt:5: image not found: {root}/nope.png"])


@case
def undecodable_image(root):
  with open(os.path.join(root, "junk.jpg"), "wb") as f:
    f.write(b"this is not an image")
  return (label_files(root, ["junk.jpg 0 0"]),
          [f"{root}/train.txt:5: image cannot be decoded as JPEG/PNG/GIF/BMP: "
           f"{root}/junk.jpg"])


@case
def empty_image_file(root):
  open(os.path.join(root, "empty.png"), "wb").close()
  return (label_files(root, ["empty.png 0 0"]),
          [f"{root}/train.txt:5: image cannot be decoded as JPEG/PNG/GIF/BMP: "
           f"{root}/empty.png"])


@case
def truncated_png(root):
  cfg = label_files(root, ["cut.png 0 0"])
  with open(os.path.join(root, "a.png"), "rb") as f:
    head = f.read(40)
  with open(os.path.join(root, "cut.png"), "wb") as f:
    f.write(head)
  return cfg, [f"{root}/train.txt:5: image cannot be decoded as "
               f"JPEG/PNG/GIF/BMP: {root}/cut.png"]


@case
def two_fields(root):
  return (label_files(root, ["e.png 0"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 2"])


@case
def four_fields(root):
  return (label_files(root, ["e.png 0 0 extra"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 4"])


@case
def comma_line_with_two_fields(root):
  return (label_files(root, ["e.png,0"]),
          [f"{root}/train.txt:5: expected 3 fields (path coarse fine), found 2"])


@case
def fine_label_not_an_integer(root):
  return (label_files(root, ["e.png 0 x1"]),
          [f"{root}/train.txt:5: fine label 'x1' is not an integer"])


@case
def negative_coarse_label(root):
  return (label_files(root, ["e.png -2 0"]),
          [f"{root}/train.txt:5: coarse label -2 out of range [0, 2)"])


@case
def label_beyond_the_training_classes(root):
  return (label_files(root, test_lines=GOOD_LINES + ["e.png 1 5"]),
          [f"{root}/test.txt:5: fine label 5 out of range [0, 4); the training "
           "file's largest is 3, set --num_fine_classes if classes are missing "
           "there"])


@case
def label_beyond_declared_classes(root):
  cfg = label_files(root)
  cfg["num_fine_classes"] = 3
  return cfg, [f"{root}/test.txt:4: fine label 3 out of range [0, 3)",
               f"{root}/train.txt:4: fine label 3 out of range [0, 3)"]


@case
def unknown_class_name(root):
  train = ["a.png animal cat", "b.jpg animal dog", "c.png plant oak"]
  return (label_files(root, train=train,
                      test_lines=train[:2] + ["e.png animal zebra"]),
          [f"{root}/test.txt:3: fine label 'zebra' is not a class of the "
           "training file"])


@case
def duplicate_image(root):
  return (label_files(root, ["a.png 0 0"]),
          [f"{root}/train.txt:5: duplicate image (first at line 1)"])


@case
def fine_class_under_two_coarse_classes(root):
  return (label_files(root, ["e.png 1 0"]),
          [f"{root}/train.txt:5: fine class '0' under coarse class '1', but "
           "under '0' at line 1"])


@case
def missing_train_file(root):
  cfg = label_files(root)
  cfg["train_file"] = "absent.txt"
  return cfg, [f"{root}/absent.txt: train file not found (set --train_file or "
               "--data_dir)"]


@case
def missing_test_file(root):
  cfg = label_files(root)
  os.remove(os.path.join(root, "test.txt"))
  return cfg, [f"{root}/test.txt: test file not found (set --test_file or "
               "--data_dir)"]


@case
def every_problem_of_a_file_at_once(root):
  return (label_files(root, ["nope.png 0 0", "e.png 0", "f.jpg 0 y"]),
          [f"{root}/train.txt:5: image not found: {root}/nope.png",
           f"{root}/train.txt:6: expected 3 fields (path coarse fine), found 2",
           f"{root}/train.txt:7: fine label 'y' is not an integer"])


@case
def empty_training_file(root):
  cfg = label_files(root)
  open(os.path.join(root, "train.txt"), "w").close()
  return cfg, [f"{root}/train.txt: no examples in the training file"]


@case
def empty_validation_file(root):
  cfg = label_files(root)
  with open(os.path.join(root, "val.txt"), "w", encoding="utf-8") as f:
    f.write("# filled in later\n")
  return cfg, [f"{root}/val.txt: no examples in the validation file"]


@case
def empty_test_file(root):
  cfg = label_files(root)
  open(os.path.join(root, "test.txt"), "w").close()
  return cfg, [f"{root}/test.txt: no examples in the test file"]


@case
def label_file_not_utf8(root):
  cfg = label_files(root)
  with open(os.path.join(root, "train.txt"), "ab") as f:
    f.write("caf\xe9.png 0 0\n".encode("latin-1"))
  return cfg, [f"{root}/train.txt:5: byte 0xe9 is not UTF-8; expected UTF-8 "
               "text"]


# ---- csv_text
def csv_files(root, train_rows, header=("text", "coarse", "fine")):
  data_files.write_csv(os.path.join(root, "train.csv"), train_rows, header)
  data_files.write_csv(os.path.join(root, "test.csv"), GOOD_TEXT)
  return {"dataset": "csv_text", "data_dir": root}


GOOD_TEXT = [("a cat", "0", "0"), ("a dog", "0", "1"), ("an oak", "1", "2")]


@case
def csv_missing_text_column(root):
  return (csv_files(root, GOOD_TEXT, header=("body", "coarse", "fine")),
          [f"{root}/train.csv:1: no text column 'text' in the header (columns:"
           " body, coarse, fine; set --text_column)"])


@case
def csv_wrong_field_count(root):
  return (csv_files(root, GOOD_TEXT + [("a rose", "1", "3", "extra")]),
          [f"{root}/train.csv:5: expected 3 fields (as the header), found 4"])


@case
def csv_empty_text(root):
  return (csv_files(root, GOOD_TEXT + [("", "1", "2")]),
          [f"{root}/train.csv:5: empty text"])


@case
def csv_blank_text(root):
  return (csv_files(root, GOOD_TEXT + [("   ", "1", "2")]),
          [f"{root}/train.csv:5: empty text"])


@case
def csv_duplicate_row(root):
  return (csv_files(root, GOOD_TEXT + [("a dog", "0", "1")]),
          [f"{root}/train.csv:5: duplicate row (first at line 3)"])


@case
def csv_line_numbers_count_quoted_newlines(root):
  return (csv_files(root, [("two\nlines", "0", "0"), ("", "0", "1"),
                           *GOOD_TEXT[1:]]),
          [f"{root}/train.csv:4: empty text"])


@case
def csv_unterminated_quote(root):
  cfg = csv_files(root, GOOD_TEXT)
  with open(os.path.join(root, "train.csv"), "a", encoding="utf-8") as f:
    f.write('"never closed,1,2\n')
  return cfg, [f"{root}/train.csv:5: unreadable CSV: unexpected end of data"]


@case
def csv_empty_file(root):
  cfg = csv_files(root, GOOD_TEXT)
  open(os.path.join(root, "train.csv"), "w").close()
  return cfg, [f"{root}/train.csv:1: empty file, expected a header row"]


@case
def csv_coarse_label_not_an_integer(root):
  return (csv_files(root, GOOD_TEXT + [("a rose", "one", "3")]),
          [f"{root}/train.csv:5: coarse label 'one' is not an integer"])


@case
def csv_empty_validation_file(root):
  cfg = csv_files(root, GOOD_TEXT)
  data_files.write_csv(os.path.join(root, "val.csv"), [])
  return cfg, [f"{root}/val.csv: no examples in the validation file"]


@case
def csv_error_on_the_header_line(root):
  cfg = csv_files(root, GOOD_TEXT)
  with open(os.path.join(root, "train.csv"), "w", encoding="utf-8") as f:
    f.write('"text"x,coarse,fine\na cat,0,0\n')
  return cfg, [f"{root}/train.csv:1: unreadable CSV: ',' expected after '\"'"]


@case
def csv_not_utf8(root):
  cfg = csv_files(root, GOOD_TEXT)
  with open(os.path.join(root, "train.csv"), "ab") as f:
    f.write("un caf\xe9,0,1\n".encode("latin-1"))
  return cfg, [f"{root}/train.csv:5: byte 0xe9 is not UTF-8; expected UTF-8 "
               "text"]


@case
def csv_one_training_row_and_no_validation_file(root):
  # The carved share of one example is none: no validation split is left.
  cfg = csv_files(root, GOOD_TEXT[:1])
  data_files.write_csv(os.path.join(root, "test.csv"), GOOD_TEXT[:1])
  return (cfg,
          ["--dataset=csv_text: no examples in the validation split; "
           "training, validation and test need one each at least"])
