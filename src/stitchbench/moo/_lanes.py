"""Vector code numba's loop vectorizer does not emit, written as LLVM IR through numba intrinsics, the sums kept
in registers across the members: a weighting's margins over 32 samples at once (`margins`), a sample's over 32
weightings (`sums`, `sums3`), and the bit counts the verdicts' masks need. Imported by `_mixture`, on first
use; its kernels' numba cache does not see edits here (docs/development.md)."""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 32  # samples a step: two 512-bit vectors, their chains side by side (narrower CPUs: LLVM splits them)
F32, I64, I32, BIT = ir.FloatType(), ir.IntType(64), ir.IntType(32), ir.IntType(1)
VECTOR = ir.VectorType(F32, LANES)


def _declared(builder: ir.IRBuilder, name: str, result: ir.Type, *args: ir.Type) -> ir.Function:
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(result, args), name)


def _splat(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """x in every lane."""
    one = builder.insert_element(ir.Constant(VECTOR, ir.Undefined), x, ir.Constant(I32, 0))
    every = ir.Constant(ir.VectorType(I32, LANES), [0] * LANES)
    return builder.shuffle_vector(one, ir.Constant(VECTOR, ir.Undefined), every)


@intrinsic
def margins(typingctx, T, members, width, weights, used, rest, s, t):
    """The verdicts of samples s .. s + 31 as two 32-bit masks (right, open), from their margins f, g and o:
    each a chain of fused multiply-adds over the `used` members in order, from 0, of T (flat float32: member
    u's f at members[u] * width + s, its g `rest` further, its o twice that) times weights[u]; right where all three are
    beyond the tolerance t, open where not and neither f nor g is below -t."""

    def codegen(context, builder, sig, args):
        data, member = (
            context.make_array(ty)(context, builder, a).data for ty, a in zip(sig.args[:2], args[:2], strict=True)
        )
        width, weight = args[2], context.make_array(sig.args[3])(context, builder, args[3]).data
        used, rest, s, t = args[4:]
        fma = _declared(builder, f"llvm.fma.v{LANES}f32", VECTOR, VECTOR, VECTOR, VECTOR)
        base, entry = builder.gep(data, [s]), builder.basic_block
        head, body, done = (builder.append_basic_block(f"margins.{n}") for n in ("head", "body", "done"))
        builder.branch(head)
        builder.position_at_end(head)  # u: the member; sums: f, g and o so far
        u, sums = builder.phi(I64), [builder.phi(VECTOR) for _ in range(3)]
        u.add_incoming(ir.Constant(I64, 0), entry)
        for m in sums:
            m.add_incoming(ir.Constant(VECTOR, [0.0] * LANES), entry)
        builder.cbranch(builder.icmp_signed("<", u, used), body, done)
        builder.position_at_end(body)
        w = _splat(builder, builder.load(builder.gep(weight, [u])))
        f = builder.gep(base, [builder.mul(builder.load(builder.gep(member, [u])), width)])
        for p, m in zip((f, builder.gep(f, [rest]), builder.gep(f, [builder.add(rest, rest)])), sums, strict=True):
            m.add_incoming(
                builder.call(fma, [builder.load(builder.bitcast(p, VECTOR.as_pointer()), align=4), w, m]), body
            )
        u.add_incoming(builder.add(u, ir.Constant(I64, 1)), body)
        builder.branch(head)
        builder.position_at_end(done)
        above, below = _splat(builder, t), _splat(builder, builder.fneg(t))
        (fo, go), (fu, gu) = (
            [builder.fcmp_ordered(op, m, x) for m in sums[:2]] for op, x in ((">", above), ("<", below))
        )
        right = builder.and_(builder.and_(fo, go), builder.fcmp_ordered(">", sums[2], above))
        left = builder.not_(builder.or_(right, builder.or_(fu, gu)))
        masks = [builder.zext(builder.bitcast(v, ir.IntType(LANES)), I64) for v in (right, left)]
        return context.make_tuple(builder, sig.return_type, masks)

    return types.UniTuple(types.int64, 2)(T, members, width, weights, used, rest, s, t), codegen


@intrinsic
def popcount(typingctx, x):
    """The 1 bits of an int64."""

    def codegen(context, builder, sig, args):
        return builder.call(_declared(builder, "llvm.ctpop.i64", I64, I64), args)

    return types.int64(types.int64), codegen


@intrinsic
def lowest(typingctx, x):
    """The place of an int64's lowest 1 bit (64 where it has none)."""

    def codegen(context, builder, sig, args):
        return builder.call(_declared(builder, "llvm.cttz.i64", I64, I64, BIT), [args[0], ir.Constant(BIT, 0)])

    return types.int64(types.int64), codegen


def _sums(context, builder, sig, args, vectors: int) -> None:
    """out[v][j .. j + 31] = the chain over the rows k of Wt (M, width) of Wt[k, j + lane] * e_v[k], for the
    `vectors` vectors e_v (args: Wt, e_0 .., j, out_0 ..)."""
    Wt = context.make_array(sig.args[0])(context, builder, args[0])
    rows, width = cgutils.unpack_tuple(builder, Wt.shape, 2)
    es = [
        context.make_array(ty)(context, builder, a).data
        for ty, a in zip(sig.args[1 : 1 + vectors], args[1 : 1 + vectors], strict=True)
    ]
    j = args[1 + vectors]
    outs = [
        context.make_array(ty)(context, builder, a).data
        for ty, a in zip(sig.args[2 + vectors :], args[2 + vectors :], strict=True)
    ]
    fma = _declared(builder, f"llvm.fma.v{LANES}f32", VECTOR, VECTOR, VECTOR, VECTOR)
    base, entry = builder.gep(Wt.data, [j]), builder.basic_block
    head, body, done = (builder.append_basic_block(f"sums.{n}") for n in ("head", "body", "done"))
    builder.branch(head)
    builder.position_at_end(head)
    k, sums = builder.phi(I64), [builder.phi(VECTOR) for _ in range(vectors)]
    k.add_incoming(ir.Constant(I64, 0), entry)
    for m in sums:
        m.add_incoming(ir.Constant(VECTOR, [0.0] * LANES), entry)
    builder.cbranch(builder.icmp_signed("<", k, rows), body, done)
    builder.position_at_end(body)
    x = builder.load(builder.bitcast(builder.gep(base, [builder.mul(k, width)]), VECTOR.as_pointer()), align=4)
    for e, m in zip(es, sums, strict=True):
        m.add_incoming(builder.call(fma, [x, _splat(builder, builder.load(builder.gep(e, [k]))), m]), body)
    k.add_incoming(builder.add(k, ir.Constant(I64, 1)), body)
    builder.branch(head)
    builder.position_at_end(done)
    for out, m in zip(outs, sums, strict=True):
        builder.store(m, builder.bitcast(builder.gep(out, [j]), VECTOR.as_pointer()), align=4)


@intrinsic
def sums(typingctx, Wt, e, j, s):
    """s[j .. j + 31] = each column's chain over the rows k of Wt (M, width, C-contiguous) of Wt[k, j + lane] *
    e[k] (one fused multiply-add per row, in order, from 0: `_mixture._dots`' bits), in registers."""

    def codegen(context, builder, sig, args):
        _sums(context, builder, sig, args, 1)
        return context.get_dummy_value()

    return types.none(Wt, e, j, s), codegen


@intrinsic
def sums3(typingctx, Wt, e, f, g, j, s, t, u):
    """`sums` of three vectors at once, each row of Wt loaded once: s of e, t of f, u of g."""

    def codegen(context, builder, sig, args):
        _sums(context, builder, sig, args, 3)
        return context.get_dummy_value()

    return types.none(Wt, e, f, g, j, s, t, u), codegen
