"""plugins/deploy/block_patterns.py: the registries of the BatchNorm-folding and chain passes."""
import sys
import types

from torch import nn

from plugins.deploy.block_patterns import BlockPatterns


def test_defaults_are_imported_on_first_lookup_and_missing_packages_skipped(monkeypatch):
    mod = types.ModuleType('fake_blocks_pkg')

    class Block(nn.Module):
        pass

    mod.Block = Block
    monkeypatch.setitem(sys.modules, 'fake_blocks_pkg', mod)
    patterns = BlockPatterns([('fake_blocks_pkg:Block', ('a', 'b')),
                              ('no_such_package_here:Block', ('c',))])
    assert patterns.get(Block) == ('a', 'b')
    assert list(patterns) == [Block]  # the missing package is skipped, no error
    overridden = BlockPatterns([('fake_blocks_pkg:Block', ('a', 'b'))])
    overridden.register(Block, ('x', 'y'))  # a user's registration before the first lookup
    assert overridden.get(Block) == ('x', 'y')


def test_lookup_is_by_exact_class():
    class Base(nn.Module):
        pass

    class Sub(Base):  # a subclass may change forward: it must register itself
        pass

    patterns = BlockPatterns()
    assert patterns.register(Base, ('norm', 'act', 'conv')) is Base
    assert Base in patterns and Sub not in patterns and patterns.get(Sub) is None


def test_project_blocks_are_registered_for_both_passes():
    from plugins.deploy.chain import CHAIN_BLOCKS
    from plugins.deploy.fold_norm import FOLDABLE_BLOCKS
    from plugins.pose.hpm import HPMBlock
    from plugins.pose.layers import PreActConv
    assert CHAIN_BLOCKS.get(HPMBlock) == ('branches', 'shortcut')
    assert FOLDABLE_BLOCKS.get(PreActConv) == ('norm', 'act', 'conv')
