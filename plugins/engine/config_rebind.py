"""``--cfg-options`` that reach every place a top-level config variable was used.

An OpenMMLab Python config is executed once: ``codec = dict(input_size=input_size)`` copies the
*value* of ``input_size`` into the codec, the pipelines and the dataloaders when the file is
parsed. Overriding ``input_size`` (or ``data_root``) afterwards with mmengine's
``Config.merge_from_dict`` changes only the top-level variable, and training silently keeps
the old resolution and data. The same happens when a child config sets ``input_size`` that its
``_base_`` files used. :func:`load_config` and :func:`merge_cfg_options` *rebind* each top-level
variable that a child config or an option changed:

- every field of the same name that still holds the variable's old value gets the new one
  (``codec.input_size``, ``TopdownAffine.input_size``, ``dataset.data_root``,
  ``backbone.num_stacks`` ...);
- a string variable that names a folder (``data_root``) also moves every path that starts
  with it (``headbox_file=data_root + 'annotations/...'``);
- ``input_size`` overridden without ``heatmap_size`` rescales ``heatmap_size`` by the same
  factor, so the codec keeps its stride (128 -> 32 becomes 256 -> 64).

Fields that an option sets explicitly (``codec.input_size=...``) win over the rebinding.
:func:`check_data_roots` warns when a dataloader reads from another root than the top-level
``data_root``.
"""
from __future__ import annotations

import copy
import os.path as osp
import warnings
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from mmengine.config import Config

#: ``variable -> [derived variables]``: a derived variable is rescaled by the same factor when
#: the variable is overridden and it is not overridden itself (the codec keeps its stride; a
#: shorter run keeps its validation points and lr step at the same fractions).
DERIVED = {'input_size': ['heatmap_size'], 'max_iters': ['val_interval', 'milestones']}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b if not isinstance(a, (int, float)) else (
        isinstance(b, (int, float)) and not isinstance(b, bool) and a == b)


def _walk(node: Any, path: Tuple = ()) -> Iterator[Tuple[Tuple, Any, Any]]:
    """Yield ``(path, container, key)`` for every field below ``node``."""
    if isinstance(node, dict):
        for k in list(node.keys()):
            yield path + (k, ), node, k
            yield from _walk(node[k], path + (k, ))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i, ), node, i
            yield from _walk(v, path + (i, ))


def _explicit_paths(options: Dict[str, Any]) -> List[Tuple]:
    return [tuple(int(p) if p.isdigit() else p for p in k.split('.')) for k in options]


def _rebind(cfg_dict: dict, name: str, old: Any, new: Any, protected: List[Tuple]) -> List[str]:
    """Replace ``old`` by ``new`` in every field named ``name`` (and folder prefixes)."""
    changed = []
    is_root = isinstance(old, str) and isinstance(new, str) and old.endswith('/')
    for path, parent, key in list(_walk(cfg_dict)):
        if len(path) == 1 or any(path[:len(p)] == p for p in protected):
            continue
        value = parent[key]
        if key == name and _same(value, old):
            parent[key] = copy.deepcopy(new)
            changed.append('.'.join(map(str, path)))
        elif is_root and isinstance(value, str) and value.startswith(old) and value != old:
            parent[key] = new + value[len(old):]
            changed.append('.'.join(map(str, path)))
    return changed


def _scaled(value: Any, old: Any, new: Any) -> Any:
    """``value`` rescaled as its variable went from ``old`` to ``new`` (elementwise for
    sizes, by the one ratio for a scalar variable); scalars stay >= 1."""
    if isinstance(old, (list, tuple)):
        return type(value)(int(round(v * n / o)) for v, o, n in zip(value, old, new))
    if isinstance(value, (list, tuple)):
        return type(value)(max(1, int(round(v * new / old))) for v in value)
    return max(1, int(round(value * new / old)))


def merge_cfg_options(cfg: Config, options: Optional[Dict[str, Any]]) -> Dict[str, List[str]]:
    """``cfg.merge_from_dict(options)``, then rebind the overridden top-level variables.

    Args:
        cfg: a loaded config (modified in place).
        options: ``--cfg-options`` as a flat ``{'a.b': value}`` dict, or ``None``.

    Returns:
        ``{variable: [dotted paths that were rebound]}``.

    Raises:
        ValueError: if ``input_size`` is rebound to a size whose ratio to ``heatmap_size``
            is not an integer stride.
    """
    if not options:
        return {}
    top = {k: copy.deepcopy(cfg[k]) for k in options if '.' not in k and k in cfg}
    for var, derived in DERIVED.items():
        if var in top:
            for d in derived:
                if d in cfg and d not in options:
                    old_in, new_in = top[var], options[var]
                    top[d] = copy.deepcopy(cfg[d])
                    options = dict(options, **{d: _scaled(cfg[d], old_in, new_in)})
    cfg.merge_from_dict(options)
    protected = _explicit_paths(options)
    raw = cfg._cfg_dict  # a ConfigDict, edited in place
    report = {}
    for name, old in top.items():
        if _same(old, raw[name]):
            continue
        report[name] = _rebind(raw, name, old, raw[name], protected)
    return report


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, tuple, list)) and not isinstance(value, bool) and (
        not isinstance(value, (tuple, list)) or all(isinstance(v, (int, float)) for v in value))


_PLAIN_VALUES: Dict[Tuple[str, float], Dict[str, Any]] = {}


def _plain_values(path: str) -> Dict[str, Any]:
    """The plain top-level values of the config at ``path`` (cached by path and mtime)."""
    key = (path, osp.getmtime(path))
    if key not in _PLAIN_VALUES:
        _PLAIN_VALUES[key] = {k: v for k, v in Config.fromfile(path).items() if _plain(v)}
    return _PLAIN_VALUES[key]


def _inherited_values(path: str, seen: Optional[Set[str]] = None) -> Dict[str, List[Any]]:
    """``{variable: [values it has in the config at path and in each of its base files]}``."""
    path = osp.abspath(path)
    seen = set() if seen is None else seen
    if path in seen:
        return {}
    seen.add(path)
    values: Dict[str, List[Any]] = {}
    for k, v in _plain_values(path).items():
        values.setdefault(k, []).append(v)
    for base in Config._get_base_files(path):
        for k, vs in _inherited_values(osp.join(osp.dirname(path), base), seen).items():
            values.setdefault(k, []).extend(vs)
    return values


def resolve_inherited_variables(cfg: Config, path: str) -> Dict[str, List[str]]:
    """Rebind the fields that still hold a value a top-level variable had in a base file.

    A child config that sets ``input_size = (256, 256)`` then reaches the codec and pipelines
    its bases built from ``input_size = (128, 128)``; ``heatmap_size`` follows ``input_size``
    unless the child sets it too.

    Args:
        cfg: the config loaded from ``path`` (modified in place).
        path: its file.

    Returns:
        ``{variable: [dotted paths that were rebound]}``.
    """
    history = _inherited_values(path)
    report = {}
    for name, final in list(cfg.items()):
        olds = [v for v in history.get(name, []) if _plain(final) and not _same(v, final)]
        for var, derived in DERIVED.items():
            if name in derived and var in history and not olds:
                base_in = next((v for v in history[var] if not _same(v, cfg[var])), None)
                if base_in is not None:  # input_size changed, heatmap_size did not
                    cfg[name] = final = _scaled(final, base_in, cfg[var])
                    olds = [v for v in history[name] if not _same(v, final)]
        changed = []
        for old in {repr(o): o for o in olds}.values():
            changed += _rebind(cfg._cfg_dict, name, old, final, [])
        if changed:
            report[name] = changed
    return report


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """``Config.fromfile`` with inherited variables and ``--cfg-options`` rebound.

    Args:
        path: config file.
        cfg_options: flat ``{'a.b': value}`` overrides, or ``None``.
    """
    cfg = Config.fromfile(path)
    resolve_inherited_variables(cfg, path)
    merge_cfg_options(cfg, cfg_options)
    return cfg


def dataloader_roots(cfg: Config) -> Dict[str, str]:
    """``{dataloader name: dataset data_root}`` for the dataloaders that name a root."""
    roots = {}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        root = (loader or {}).get('dataset', {}).get('data_root') if loader else None
        if root is not None:
            roots[key] = root
    return roots


def check_data_roots(cfg: Config) -> List[str]:
    """Warn (and return the messages) where a dataloader's root differs from ``data_root``."""
    top = cfg.get('data_root')
    if top is None:
        return []
    msgs = [f'{key}.dataset.data_root is {root!r} but the config\'s data_root is {top!r}; '
            f'set data_root once (e.g. --cfg-options data_root={root}) so every loader uses it'
            for key, root in dataloader_roots(cfg).items()
            if root.rstrip('/') != str(top).rstrip('/')]
    for m in msgs:
        warnings.warn(m, stacklevel=2)
    return msgs
