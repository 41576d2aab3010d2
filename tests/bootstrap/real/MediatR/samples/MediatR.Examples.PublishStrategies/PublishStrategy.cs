namespace MediatR.Examples.PublishStrategies;

/// <summary>
