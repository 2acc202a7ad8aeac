#!/usr/bin/python3
"""load-goog.py: turn Debian's goog.npz sample into a pgtrade bar CSV.

Reads the GOOG daily price history shipped by python-matplotlib-data
(a zip archive holding one NumPy .npy array) with the standard library
only, and writes the CSV layout scripts/load-bars.sh loads:

    symbol,ts,open,high,low,close,volume

Invariants:
  * The record layout is taken from the .npy header and must match the
    one this script knows (56-byte little-endian records: date as
    datetime64[D], i.e. days since 1970-01-01, then open, high, low,
    close as float64, volume as int64, adjusted close as float64);
    anything else is refused rather than guessed at.
  * Prices are written with repr() of the stored double, the shortest
    text that reads back as the same double, so no digits are invented.
    The adjusted close is not written: bars carry the traded prices.
  * The known shape of the sample (1,047 sessions, 2004-08-19 to
    2008-10-14, dates strictly increasing, low <= open/close <= high)
    is checked; a file that differs makes the script fail loudly.
"""

import argparse
import ast
import datetime
import math
import os
import struct
import sys
import zipfile

DEFAULT_NPZ = "/usr/share/matplotlib/mpl-data/sample_data/goog.npz"
SYMBOL = "GOOG"

NPY_MAGIC = b"\x93NUMPY"
EXPECTED_DESCR = [
    ("date", "<M8[D]"),
    ("open", "<f8"),
    ("high", "<f8"),
    ("low", "<f8"),
    ("close", "<f8"),
    ("volume", "<i8"),
    ("adj_close", "<f8"),
]
RECORD = struct.Struct("<q4dqd")  # 56 bytes, no padding with "<"

EXPECTED_ROWS = 1047
EXPECTED_FIRST = datetime.date(2004, 8, 19)
EXPECTED_LAST = datetime.date(2008, 10, 14)
EPOCH = datetime.date(1970, 1, 1)


class LoadError(Exception):
    """The input is not the goog.npz this script knows how to read."""


def read_npy_member(path):
    """Return the bytes of the single .npy member of the archive at path."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".npy")]
            if len(names) != 1:
                raise LoadError("%s: expected one .npy member, found %d"
                                % (path, len(names)))
            return archive.read(names[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise LoadError("%s: cannot read archive: %s" % (path, exc))


def parse_npy_header(data):
    """Check the .npy header in data; return (record count, data offset).

    Versions 1.0 (2-byte header length) and 2.0/3.0 (4-byte length) are
    understood.  The header is a Python dict literal, read with
    ast.literal_eval, which evaluates literals only.
    """
    if data[:6] != NPY_MAGIC:
        raise LoadError("not a .npy array (bad magic)")
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", data, 8)
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack_from("<I", data, 8)
        start = 12
    else:
        raise LoadError("unsupported .npy version %d.%d" % (major, data[7]))
    try:
        header = ast.literal_eval(
            data[start:start + hlen].decode("latin-1"))
    except (ValueError, SyntaxError) as exc:
        raise LoadError("unreadable .npy header: %s" % exc)
    if not isinstance(header, dict):
        raise LoadError("unreadable .npy header: not a dict")
    if header.get("descr") != EXPECTED_DESCR:
        raise LoadError("unexpected record layout %r" % (header.get("descr"),))
    if header.get("fortran_order") is not False:
        raise LoadError("unexpected fortran_order %r"
                        % (header.get("fortran_order"),))
    shape = header.get("shape")
    if not (isinstance(shape, tuple) and len(shape) == 1):
        raise LoadError("unexpected shape %r" % (shape,))
    offset = start + hlen
    if len(data) - offset != shape[0] * RECORD.size:
        raise LoadError("array holds %d bytes, shape %r needs %d"
                        % (len(data) - offset, shape, shape[0] * RECORD.size))
    return shape[0], offset


def read_bars(path):
    """Return the bars of the archive at path as a list of tuples.

    Each tuple is (date, open, high, low, close, volume).
    """
    data = read_npy_member(path)
    count, offset = parse_npy_header(data)
    bars = []
    for i in range(count):
        days, o, h, l, c, vol, _adj = RECORD.unpack_from(
            data, offset + i * RECORD.size)
        bars.append((EPOCH + datetime.timedelta(days=days), o, h, l, c, vol))
    return bars


def check_bars(bars):
    """Raise LoadError unless bars look like the known GOOG sample."""
    if len(bars) != EXPECTED_ROWS:
        raise LoadError("expected %d rows, found %d"
                        % (EXPECTED_ROWS, len(bars)))
    if bars[0][0] != EXPECTED_FIRST or bars[-1][0] != EXPECTED_LAST:
        raise LoadError("expected dates %s .. %s, found %s .. %s"
                        % (EXPECTED_FIRST, EXPECTED_LAST,
                           bars[0][0], bars[-1][0]))
    prev = None
    for day, o, h, l, c, vol in bars:
        if prev is not None and day <= prev:
            raise LoadError("dates not increasing at %s" % day)
        prev = day
        if not all(math.isfinite(x) and x > 0 for x in (o, h, l, c)):
            raise LoadError("non-positive or non-finite price on %s" % day)
        if not (l <= min(o, c) and max(o, c) <= h):
            raise LoadError("open/close outside low..high on %s" % day)
        if vol < 0:
            raise LoadError("negative volume on %s" % day)


def write_csv(bars, out):
    """Write bars to the text stream out in the pgtrade bar CSV layout."""
    out.write("symbol,ts,open,high,low,close,volume\n")
    for day, o, h, l, c, vol in bars:
        out.write("%s,%s,%r,%r,%r,%r,%d\n"
                  % (SYMBOL, day.isoformat(), o, h, l, c, vol))


def main(argv):
    """Parse argv, convert, and return the process exit status."""
    parser = argparse.ArgumentParser(
        description="Write Debian's GOOG sample (goog.npz) as a bar CSV.")
    parser.add_argument("npz", nargs="?", default=DEFAULT_NPZ,
                        help="archive to read (default: %(default)s)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")
    args = parser.parse_args(argv)
    try:
        bars = read_bars(args.npz)
        check_bars(bars)
    except LoadError as exc:
        sys.stderr.write("load-goog: %s\n" % exc)
        return 1
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="ascii", newline="") as out:
            write_csv(bars, out)
        os.replace(tmp, args.output)
    else:
        try:
            write_csv(bars, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (as "| head" does): not an error
            # of ours; keep Python from complaining again at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    sys.stderr.write("load-goog: %d rows, %s .. %s\n"
                     % (len(bars), bars[0][0], bars[-1][0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
