using Autofac.Extensions.DependencyInjection;
