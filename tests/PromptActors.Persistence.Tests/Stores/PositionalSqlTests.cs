using PromptActors.Persistence.Sql;

namespace PromptActors.Persistence.Tests.Stores;

/// <summary>Named parameters become PostgreSQL's positional ones, once per text; literals and casts stay as written.</summary>
public sealed class PositionalSqlTests
{
    [Fact]
    public void Each_name_gets_one_number_in_order_of_first_use_and_literals_are_left_alone()
    {
        var sql = PositionalSql.Rewrite(
            "UPDATE t SET a = @a, b = @b_2::text, c = '@not_a' || \"@col\" -- @comment\nWHERE id = @a AND s = 'it''s' AND x = @b_2 AND e = 'x@y'");
        Assert.Equal(
            "UPDATE t SET a = $1, b = $2::text, c = '@not_a' || \"@col\" -- @comment\nWHERE id = $1 AND s = 'it''s' AND x = $2 AND e = 'x@y'",
            sql.Text);
        Assert.Equal(["a", "b_2"], sql.Names);
    }

    [Fact]
    public void A_text_without_parameters_is_unchanged_and_the_rewrite_is_cached()
    {
        Assert.Empty(PositionalSql.Rewrite("SELECT 1").Names);
        Assert.Same(PositionalSql.For("SELECT @x"), PositionalSql.For("SELECT @x"));
    }
}
