import numpy as np

from synthgp.core import nhs_number


def test_known_valid_and_invalid_numbers():
    # 943 476 5919 is the NHS Digital documentation example of a valid number
    assert nhs_number.is_valid("9434765919")
    assert nhs_number.is_valid("943 476 5919")
    assert not nhs_number.is_valid("9434765918")
    assert not nhs_number.is_valid("12345")


def test_independent_check_digit_on_many_numbers():
    nums = nhs_number.for_indices(np.arange(0, 2_000_000, 997))
    for n in nums[:3000]:
        s = str(n)
        total = sum(int(d) * w for d, w in zip(s[:9], range(10, 1, -1)))
        c = 11 - total % 11
        c = 0 if c == 11 else c
        assert c != 10 and c == int(s[9])


def test_unique_and_in_the_999_range_then_the_test_range():
    idx = np.arange(899_000)
    nums = nhs_number.for_indices(idx)
    assert len(np.unique(nums)) == len(nums)
    assert (nums // 10_000_000 == 999).all()
    beyond = nhs_number.for_indices(np.arange(900_000, 1_100_000))
    assert (beyond >= 9_000_000_000).all() and (beyond < 9_990_000_000).all()
    assert len(np.unique(np.concatenate([nums, beyond]))) == len(nums) + len(beyond)


def test_format_334():
    assert nhs_number.format_334(9434765919) == "943 476 5919"
