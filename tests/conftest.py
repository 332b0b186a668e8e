import fastnn
import pytest


@pytest.fixture(params=fastnn.supported_simd_levels())
def simd_level(request):
    """Run the test once per SIMD level this CPU supports (scalar, avx2, avx512)."""
    previous = fastnn.simd_level()
    fastnn._C._set_simd_level(request.param)
    yield request.param
    fastnn._C._set_simd_level(previous)


@pytest.fixture
def threads():
    """Restore the thread count after a test changes it."""
    previous = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(previous)
