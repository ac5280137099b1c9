"""Vector code numba's loop vectorizer does not emit, written as LLVM IR through numba intrinsics: a weighting's
margins over 32 samples at once, their sums kept in registers across the members it uses (`margins`), and the
bit counts its verdicts' masks need. Imported by `_mixture`, on first use."""

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
def margins(typingctx, T, rows, weights, used, rest, s, t):
    """The verdicts of samples s .. s + 31 as two 32-bit masks (right, open), from their margins f, g and o:
    each a chain of fused multiply-adds over the `used` members in order, from 0, of T (flat float32: member
    u's f at rows[u] + s, its g `rest` further, its o twice that) times weights[u]; right where all three are
    beyond the tolerance t, open where not and neither f nor g is below -t."""

    def codegen(context, builder, sig, args):
        data, row, weight = (
            context.make_array(ty)(context, builder, a).data for ty, a in zip(sig.args[:3], args[:3], strict=True)
        )
        used, rest, s, t = args[3:]
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
        f = builder.gep(base, [builder.load(builder.gep(row, [u]))])
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

    return types.UniTuple(types.int64, 2)(T, rows, weights, used, rest, s, t), codegen


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
