"""The workloads' sizes, shapes, bytes and flops, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.bench.workloads import BOOK_BROADCAST, WORKLOADS, parse_size, select


@pytest.mark.parametrize("token, size", [("1000", 1000), ("2^20", 2**20), (" 2^10 ", 1024),
                                         ("64x3x32x10+32x10", ((64, 3, 32, 10), (32, 10))),
                                         ("4096x4096+4096", ((4096, 4096), (4096,)))])
def test_parse_size(token, size):
    assert parse_size(token) == size


@pytest.mark.parametrize("token", ["", "abc", "2**20", "-5", "0", "3x0", "64x", "1.5"])
def test_bad_sizes_say_what_a_size_looks_like(token):
    with pytest.raises(ValueError, match="size"):
        parse_size(token)


def test_relu_moves_its_input_and_result_once():
    relu = WORKLOADS["relu"]
    case = relu.case("2^26")
    assert case.shapes == ((2**26,),) and case.label == "2^26"
    assert relu.bytes_moved(case, 4) == 2 * 2**26 * 4  # 512 MiB: read 256, write 256
    assert relu.flops(case) is None and relu.bound == "memory"


def test_add_of_same_shapes_moves_three_arrays():
    add = WORKLOADS["add"]
    case = add.case("1000")
    assert case.shapes == ((1000,), (1000,))
    assert add.bytes_moved(case, 8) == 3 * 1000 * 8
    # one explicit shape stands for both operands
    assert add.case("20x30").shapes == ((20, 30), (20, 30))


def test_book_broadcast_counts_the_small_operand_once():
    broadcast = WORKLOADS["add_broadcast"]
    case = broadcast.case(BOOK_BROADCAST)
    assert case.shapes == ((64, 3, 32, 10), (32, 10)) and case.out_shape == (64, 3, 32, 10)
    assert broadcast.bytes_moved(case, 4) == (61440 + 320 + 61440) * 4
    assert case.elements == 61440


def test_integer_broadcast_size_is_rows_plus_a_row_vector():
    case = WORKLOADS["add_broadcast"].case("2^24")
    assert case.shapes == ((4096, 4096), (4096,))
    assert WORKLOADS["add_broadcast"].case("1000").shapes == ((125, 8), (8,))


def test_dot_flops_and_bytes():
    dot = WORKLOADS["dot"]
    case = dot.case("3")
    assert case.shapes == ((3, 3), (3, 3)) and case.label == "n=3"
    assert dot.flops(case) == 2 * 27
    assert dot.bytes_moved(case, 4) == 3 * 9 * 4
    assert dot.work(case) == 27 and dot.x(case) == 3
    rectangular = dot.case("2x5+5x7")
    assert rectangular.out_shape == (2, 7) and dot.flops(rectangular) == 2 * 2 * 5 * 7


def test_sum_reads_everything_and_writes_one_number():
    total = WORKLOADS["sum"]
    case = total.case("100")
    assert case.out_shape == () and total.bytes_moved(case, 4) == 101 * 4


def test_softmax_rows_are_1024_wide_when_they_can_be():
    assert WORKLOADS["softmax"].case("2^20").shapes == ((1024, 1024),)
    assert WORKLOADS["softmax"].case("100").shapes == ((25, 4),)


def test_shapes_that_do_not_fit_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        WORKLOADS["dot"].case("3x4+5x6")
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5,\)"):
        WORKLOADS["add_broadcast"].case("3x4+5")
    with pytest.raises(ValueError, match="takes 1 operand"):
        WORKLOADS["relu"].case("3x4+4")


def test_inputs_have_the_dtype_and_the_op_runs_on_them():
    from toolkit.kernels import get_backend
    workload = WORKLOADS["add_broadcast"]
    case = workload.case("4x3x2+3x2")
    arrays = workload.inputs(case, np.dtype(np.float64), np.random.default_rng(1))
    assert [a.shape for a in arrays] == [(4, 3, 2), (3, 2)]
    assert all(a.dtype == np.float64 for a in arrays)
    result = workload.call(get_backend("numpy"), arrays)
    np.testing.assert_array_equal(result, arrays[0] + arrays[1])


def test_select_names_the_valid_ops():
    assert [w.name for w in select("dot, relu,dot")] == ["dot", "relu"]
    assert len(select(None)) == len(WORKLOADS)
    with pytest.raises(ValueError, match="unknown op 'conv'.*relu.*add_broadcast.*dot"):
        select("relu,conv")
