using System.Buffers;

namespace PromptActors.Variables;

/// <summary>Minimal growable char buffer over a caller-supplied (usually stack) span, spilling to <see cref="ArrayPool{T}"/>.</summary>
internal ref struct ValueStringBuilder
{
    private Span<char> _chars;
    private char[]? _rented;
    private int _length;

    /// <summary>Creates a builder that writes into <paramref name="initialBuffer"/> until it needs more room.</summary>
    public ValueStringBuilder(Span<char> initialBuffer)
    {
        _chars = initialBuffer;
        _rented = null;
        _length = 0;
    }

    /// <summary>Ensures room for at least <paramref name="capacity"/> characters in total.</summary>
    public void EnsureCapacity(int capacity)
    {
        if (capacity > _chars.Length)
        {
            Grow(capacity - _length);
        }
    }

    /// <summary>Appends characters.</summary>
    public void Append(scoped ReadOnlySpan<char> value)
    {
        if (value.Length > _chars.Length - _length)
        {
            Grow(value.Length);
        }

        value.CopyTo(_chars[_length..]);
        _length += value.Length;
    }

    /// <summary>Characters written so far.</summary>
    public readonly int Length => _length;

    /// <summary>Returns the built string.</summary>
    public override readonly string ToString() => new(_chars[.._length]);

    /// <summary>Returns any rented array to the pool.</summary>
    public void Dispose()
    {
        var rented = _rented;
        this = default;
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private void Grow(int additional)
    {
        var required = (long)_length + additional;
        var newSize = (int)Math.Min(Array.MaxLength, Math.Max(required, (long)_chars.Length * 2));
        if (newSize < required)
        {
            throw new OutOfMemoryException("Rendered template is too large.");
        }

        var next = ArrayPool<char>.Shared.Rent(newSize);
        _chars[.._length].CopyTo(next);

        var old = _rented;
        _chars = _rented = next;
        if (old is not null)
        {
            ArrayPool<char>.Shared.Return(old);
        }
    }
}
