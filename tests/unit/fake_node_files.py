"""FAKE node file commands shared by the fake nodes of the unit tests: the node side of
Node.read_file, Node.sha256 and node_runtimes.uninstall's restore, over a dict of path -> bytes."""
import hashlib

from lab.nodes import Result


def answer(files: dict[str, bytes], argv: list[str]) -> Result | None:
    """The answer to a file command, or None when argv is not one."""
    if argv[:2] == ["sh", "-c"] and argv[3] == "restore":  # the kept file back, or none
        path, suffix = argv[4], argv[5]
        kept = files.pop(path + suffix, None)
        files.pop(path, None)
        if kept is not None:
            files[path] = kept
        return Result(0, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "read":  # exit 3 means absent
        data = files.get(argv[4])
        return Result(0, data.decode()) if data is not None else Result(3, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "loaded":  # containerd started after the config's last write
        return Result(0, "")
    if argv[0] == "sha256sum":
        data = files.get(argv[1])
        return Result(0, hashlib.sha256(data).hexdigest() + "  f\n") if data is not None else Result(1, "")
    return None
